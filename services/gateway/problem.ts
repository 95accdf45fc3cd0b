import { ERROR_CODES, LiaisonError, type ErrorCode } from '../sdk/errors.ts';

/**
 * RFC 9457 problem details as the gateway answers every failure (`application/problem+json`): the
 * Liaison error code (`code`) and, for a policy refusal, the deciding rule (`rule`).
 */
export interface Problem {
  /** A URI naming the problem type: `urn:liaison:error:<CODE>` (stable; the code's documentation is its meaning). */
  type: string;
  /** The code's one-sentence documentation (the same for every occurrence of the code). */
  title: string;
  status: number;
  /** What went wrong in this occurrence. */
  detail: string;
  code: ErrorCode;
  /** The policy rule that decided a refusal, when there is one. */
  rule?: string;
  /** The body field a validation failure names. */
  field?: string;
}

/** The media type of every error answer. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/**
 * The HTTP status of every Liaison error code (test/gateway-problem.test.ts checks that none is missing;
 * a code added without one answers 500 until it is given one here).
 */
export const HTTP_STATUS_OF: Readonly<Record<string, number>> = {
  ERR_USAGE: 400,
  ERR_CONFIG_INVALID: 400,
  ERR_SCHEMA_LOAD: 500,
  ERR_TYPE_UNKNOWN: 404,
  ERR_BODY_INVALID: 422,
  ERR_DECODE: 502,
  ERR_MESSAGE_TOO_LARGE: 413,
  // A reply (a check, a case query) that does not verify: the gateway's upstream failed it.
  ERR_SIGNATURE_INVALID: 502,
  ERR_PROTECTED_HEADER_INVALID: 502,
  ERR_SUBJECT_MISMATCH: 502,
  ERR_HEADER_MISMATCH: 502,
  ERR_HEADER_INVALID: 502,
  ERR_KEY_UNKNOWN: 502,
  ERR_CREDENTIAL_INVALID: 502,
  ERR_CREDENTIAL_EXPIRED: 502,
  ERR_KEY_SUPERSEDED: 502,
  ERR_REVOKED: 403,
  ERR_DIRECTORY_INVALID: 502,
  // An agreement in the agency's directory that does not verify: the exchange's side, like a bad directory.
  ERR_AGREEMENT_INVALID: 502,
  // A crypto worker thread died with the job: transient, the request may be retried.
  ERR_CRYPTO_WORKER: 503,
  ERR_MESSAGE_EXPIRED: 422,
  ERR_CLOCK_SKEW: 502,
  ERR_REPLAY: 502,
  ERR_IN_DOUBT: 500,
  ERR_DEAD_LETTER: 500,
  ERR_HANDLED_RECORD: 503,
  ERR_KEY_FILE_MODE: 500,
  ERR_KEY_FILE_INVALID: 500,
  ERR_POLICY_STALE: 503,
  ERR_POLICY_INVALID: 500,
  ERR_POLICY_SEND_DENIED: 403,
  ERR_POLICY_RECEIVE_DENIED: 403,
  ERR_POLICY_HANDLING_DENIED: 403,
  ERR_TIER_VIOLATION: 422,
  ERR_POLICY_NO_RECIPIENT: 403,
  ERR_NOT_ISSUING_COUNTRY: 403,
  ERR_RECORD_UNKNOWN: 404,
  ERR_REFERENCE_TAKEN: 409,
  ERR_AGENCY_UNKNOWN: 404,
  ERR_CONSENT_REQUIRED: 403,
  ERR_ATTACHMENT_TOO_LARGE: 413,
  ERR_ATTACHMENT_DIGEST: 502,
  ERR_ATTACHMENT_MISSING: 404,
  ERR_EDGE: 503,
  ERR_WORKFLOW_UNKNOWN_CASE: 404,
  ERR_WORKFLOW_DUPLICATE_CASE: 409,
  ERR_WORKFLOW_ILLEGAL_TRANSITION: 409,
  ERR_WORKFLOW_NOT_A_PARTY: 403,
  ERR_WORKFLOW_WRONG_PARTY: 403,
  ERR_WORKFLOW_CASE_CLOSED: 409,
  ERR_WORKFLOW_GUARD: 422,
  ERR_WORKFLOW_CONFLICT: 503,
  ERR_RETRACT_UNKNOWN: 404,
  ERR_RETRACT_NOT_SENDER: 403,
  ERR_AUDIT_LEDGER: 500,
  ERR_AUDIT_WRITE: 503,
  ERR_AUDIT_TAMPERED: 500,
  ERR_GATEWAY_UNAUTHORIZED: 401,
  ERR_GATEWAY_SCOPE: 403,
  ERR_GATEWAY_JSON: 400,
  ERR_GATEWAY_IDEMPOTENCY: 422,
  ERR_GATEWAY_NOT_FOUND: 404,
  ERR_GATEWAY_BUSY: 429,
  ERR_PERMISSION_DENIED: 403,
  ERR_CONNECT: 503,
  ERR_TLS: 502,
  ERR_PUBLISH: 502,
  ERR_STATE_READ: 503,
  ERR_EXCHANGE: 502,
  ERR_NATS_SERVER_MISSING: 500,
  ERR_TIMEOUT: 504,
  ERR_BUSY: 503,
  ERR_STOP_TIMEOUT: 503,
  ERR_INTERNAL: 500,
};

/** The deciding rule a policy refusal carries (`details.rule`), when it names one. */
function ruleOf(err: LiaisonError): string | undefined {
  const r = err.details['rule'] ?? err.details['ruleName'];
  return typeof r === 'string' && r.length > 0 ? r : undefined;
}

/** The problem+json body of a LiaisonError. */
export function problemOf(err: LiaisonError): Problem {
  const field = err.details['field'];
  const rule = ruleOf(err);
  return {
    type: `urn:liaison:error:${err.code}`,
    title: ERROR_CODES[err.code],
    status: HTTP_STATUS_OF[err.code] ?? 500,
    detail: err.message,
    code: err.code,
    ...(rule ? { rule } : {}),
    ...(typeof field === 'string' && field ? { field } : {}),
  };
}
