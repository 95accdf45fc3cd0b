/**
 * The one registry of Liaison error codes (fastify-style): every failure a caller can see is a
 * {@link LiaisonError} whose `code` is one of the keys below. Callers switch on `code`, never on the
 * message text. A test checks that every code is unique, documented and used.
 *
 * Add a code by adding an entry here (keep the groups); never reuse or rename a published code.
 */
export const ERROR_CODES = {
  // --- input and schemas ---
  ERR_USAGE: 'The command line or call was malformed (missing or unknown option, wrong argument).',
  ERR_CONFIG_INVALID: 'A configuration value (environment, flag, file) is invalid.',
  ERR_SCHEMA_LOAD: 'The protobuf schemas could not be loaded or violate the Liaison schema rules.',
  ERR_TYPE_UNKNOWN: 'The message type is not defined by the Liaison schemas.',
  ERR_BODY_INVALID: 'The message body does not match its schema (the message names the field).',
  ERR_DECODE: 'Bytes could not be decoded as a Liaison envelope, signed part, header or body.',
  ERR_MESSAGE_TOO_LARGE: 'The encoded message exceeds the maximum payload the exchange accepts.',

  // --- envelope, signatures, trust ---
  ERR_SIGNATURE_INVALID: 'The JWS signature does not verify over the received signed bytes.',
  ERR_PROTECTED_HEADER_INVALID: 'The JWS protected header is malformed or not the Liaison profile (EdDSA, b64=false).',
  ERR_SUBJECT_MISMATCH: 'The NATS subject disagrees with the signed header (tier, family, type, sender or recipient).',
  ERR_HEADER_MISMATCH: 'A NATS header (CloudEvents, Nats-Msg-Id) disagrees with the signed header.',
  ERR_HEADER_INVALID: 'The signed header is missing a required field or holds an invalid value.',
  ERR_KEY_UNKNOWN: 'The signing key (kid) is not a key of the sender in the federation directory.',
  ERR_CREDENTIAL_INVALID: 'An agency credential JWT does not verify against the federation root or is malformed.',
  ERR_CREDENTIAL_EXPIRED: 'The agency credential had expired when the message was signed, or has expired now.',
  ERR_KEY_SUPERSEDED: 'The message was signed with a rotated-out key after the rotation time.',
  ERR_REVOKED: 'The sender agency is revoked; messages it signed at or after the revocation time are refused.',
  ERR_DIRECTORY_INVALID: 'The federation directory does not verify against the root key or is malformed.',
  ERR_MESSAGE_EXPIRED: 'The message expires_at is in the past.',
  ERR_CLOCK_SKEW: "The message created_at lies further in the receiver's future than the allowed clock skew (MAX_CLOCK_SKEW_MS).",
  ERR_REPLAY: "JetStream stored the copy longer after its signed created_at than the replay tolerance (REPLAY_TOLERANCE_MS, or the sender's offline allowance in the policy plus clock skew: freshnessBoundMs): an old envelope re-published.",
  ERR_IN_DOUBT: 'A redelivered message was claimed for its handler before but never marked done (a crash in between): it is quarantined, not handled again.',
  ERR_DEAD_LETTER: "A copy reached its delivery limit, one below the consumer's max_deliver (its handler kept failing, or its earlier deliveries timed out): it is put on the agency's quarantine with its delivery count and terminated, never dropped silently by JetStream.",
  ERR_HANDLED_RECORD: "The agency's durable record of handled messages (its `handled` KV bucket) could not be read or written; the copy is redelivered later.",
  ERR_KEY_FILE_MODE: 'A private key file is readable or writable by group or others (must be 0600).',
  ERR_KEY_FILE_INVALID: 'A private key file is missing or does not hold a valid private key.',

  // --- policy ---
  ERR_POLICY_STALE: "The SDK's policy is older than the exchange's; it refuses to send until it has the new directory.",
  ERR_POLICY_INVALID: 'The policy file is invalid (the message names file, line and key).',
  ERR_AGREEMENT_INVALID:
    'A cross-federation agreement is invalid (the message names file, line and key), lacks a required root signature, carries one that does not verify, or has expired.',
  ERR_POLICY_SEND_DENIED: 'The policy does not allow this agency to send this message type (to this recipient).',
  ERR_POLICY_RECEIVE_DENIED: 'The policy does not allow this agency to receive this message type at this tier.',
  ERR_POLICY_HANDLING_DENIED: 'The recipient rule does not admit this handling code or TLP.',
  ERR_TIER_VIOLATION: 'A copy carries fields above its own tier (the sender over-shared); it is refused whole.',
  ERR_POLICY_NO_RECIPIENT: 'No agency may receive this message under the policy.',
  ERR_CONSENT_REQUIRED:
    "Onward dissemination of a type the policy's `consent` list names, without the originator's signed DisseminationConsentResponse granting it for this report and recipient (missing, refused, lapsed, or for another report or recipient).",
  ERR_ATTACHMENT_TOO_LARGE: 'An attachment is larger than the configured bound (maxAttachmentBytes); it is refused before its bytes are stored or read.',
  ERR_ATTACHMENT_DIGEST: 'The fetched attachment differs from the SHA-256 or size signed in the message (tampered or replaced in the object store); its bytes are refused.',
  ERR_ATTACHMENT_MISSING: "The attachment is not (or no longer) in the sender's object store, or the reference does not name the sender's own attachment bucket.",
  ERR_NOT_ISSUING_COUNTRY: 'Only an agency of the issuing country may add, change or cancel a document record (¶16, as in SLTD).',
  ERR_RECORD_UNKNOWN: 'No registry record matches the document or alert the message refers to.',
  ERR_REFERENCE_TAKEN: 'The registry record or alert reference belongs to another agency: one agency never replaces another’s record by reusing its reference or message id.',
  ERR_AGENCY_UNKNOWN: 'The agency is not enrolled in the federation or not named in the policy.',

  // --- workflows (the case registry refuses a message; the case is unchanged) ---
  ERR_WORKFLOW_UNKNOWN_CASE: 'The message refers to a case the case registry does not know (wrong reference, or the opening message was refused).',
  ERR_WORKFLOW_DUPLICATE_CASE: 'The message would open a case that already exists (same reference).',
  ERR_WORKFLOW_ILLEGAL_TRANSITION: 'The case is not in a state where this message is allowed.',
  ERR_WORKFLOW_NOT_A_PARTY: 'The sender is not a party to the case.',
  ERR_WORKFLOW_WRONG_PARTY: 'The sender is a party to the case, but not the party this step belongs to.',
  ERR_WORKFLOW_CASE_CLOSED: 'The case is closed; nothing changes it any more.',
  ERR_WORKFLOW_GUARD: "The message does not meet the workflow's conditions (e.g. a protection referral without recorded consent).",
  ERR_WORKFLOW_CONFLICT: 'The case changed under a concurrent update too many times in a row; the message will be retried.',

  // --- retraction and correction ---
  ERR_RETRACT_UNKNOWN: 'The exchange holds no message with this id (never sent, expired from its stream, or not a message that can be retracted).',
  ERR_RETRACT_NOT_SENDER: 'Only the original sender may retract or correct a message.',

  // --- audit ledger ---
  ERR_AUDIT_LEDGER: 'The audit ledger stream is missing, unreadable or could not be created.',
  ERR_AUDIT_WRITE: 'An audit entry could not be appended (another writer appended first, or JetStream refused it); the audit service resynchronises from the ledger.',
  ERR_AUDIT_TAMPERED: 'The audit ledger does not verify: an entry was modified, removed, inserted or reordered, or a checkpoint signature or head is wrong (the message says which entry).',

  // --- HTTP gateway (liaison gateway up) ---
  ERR_GATEWAY_UNAUTHORIZED: 'The HTTP call carried no API token, or one the gateway does not know (`liaison gateway token create` makes one).',
  ERR_GATEWAY_SCOPE: 'The API token is valid but lacks the scope this call needs (send, receive, check, retract or policy).',
  ERR_GATEWAY_JSON: 'The HTTP request body is not JSON (or not a JSON object), or its media type is not application/json.',
  ERR_GATEWAY_IDEMPOTENCY: 'The Idempotency-Key was used before for a different request (another type, body or option); the original stays the only send.',
  ERR_GATEWAY_NOT_FOUND: 'No such route, or no delivered, unacknowledged message with this sender and id (it was acknowledged already, or never delivered to this reader).',
  ERR_GATEWAY_BUSY: 'The gateway already serves as many event streams and long polls as it allows, for this API token or in all (`--max-readers-per-token`, `--max-readers`): retry after the Retry-After seconds, or close a reader first.',

  // --- broker and exchange ---
  ERR_PERMISSION_DENIED: 'The NATS server refused the operation (Permissions Violation).',
  ERR_CONNECT: 'Could not connect to the exchange (unreachable, refused, or authorization failed).',
  ERR_TLS: "The federation's TLS material (CA, the exchange's server certificate, an agency's ca.pem) is missing, invalid or could not be made, or plain TCP was asked for beyond loopback.",
  ERR_PUBLISH: 'The exchange did not acknowledge a publish.',
  ERR_STATE_READ: "A read of a service's stored state (a KV entry or a scan of its bucket: the case registry's cases, the centre's records and facts) lost its answer: the connection to the exchange dropped before the exchange answered. Nothing was decided on it and a scan is never returned part-way; read it again (a message being handled is redelivered).",
  ERR_EXCHANGE: 'The exchange (nats-server) could not be configured, started or provisioned.',
  ERR_EDGE: "The agency's leaf node (`liaison leaf up`) could not start, keep its outbox or forwarder cursor in its own JetStream domain, or read it (the message says which).",
  ERR_NATS_SERVER_MISSING: 'The nats-server binary was not found (LIAISON_NATS_SERVER names no executable file, or nats-server is neither on the PATH nor in /usr/sbin): the message names the command that installs it.',
  ERR_TIMEOUT: 'An operation did not complete in time.',
  ERR_CRYPTO_WORKER: 'A signing or verification job could not run on its crypto worker thread (a second thread died with it — the pool does a job lost with its thread again once — or the pool was closed with the job in it); a received copy is redelivered later, a send fails.',
  ERR_BUSY: "A service refused to answer now (status 503): its requests in process and waiting were at their bounds, or (the ¶16 registry, decided on arrival, before verification) it had its limit of checks in process or the check had waited longer than its admission bound. Believed only with the service's signed busy statement (header Liaison-Busy: signed by the service's key, current; one statement per 2 s window, so a refusal costs no signature); a busy refusal without one is raised as the reason it is not believed (ERR_SIGNATURE_INVALID, ERR_KEY_UNKNOWN, ERR_MESSAGE_EXPIRED …). Retry shortly.",
  ERR_STOP_TIMEOUT: "A service did not finish stopping within the bound after SIGTERM/SIGINT (e.g. the exchange stalled during its final snapshot or drain): the process exits with status 1 anyway; what it acknowledged stays acknowledged, the rest stays in JetStream.",
  ERR_INTERNAL: 'An unexpected failure (a bug): the message carries the stack; please report it.',
} as const;

/** A stable error code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Extra, structured facts about a failure (never secrets, never message bodies). */
export type ErrorDetails = Record<string, unknown>;

/** The error every Liaison module throws. `code` is stable; `message` is for humans. */
export class LiaisonError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LiaisonError';
    this.code = code;
    this.details = details;
  }

  /** One line for logs and the CLI: `ERR_CODE: message`. */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** True when `err` is a LiaisonError (optionally with the given code). */
export function isLiaisonError(err: unknown, code?: ErrorCode): err is LiaisonError {
  return err instanceof LiaisonError && (code === undefined || err.code === code);
}

/** Wrap an unknown thrown value as a LiaisonError with `code`, keeping the cause. */
export function asLiaisonError(err: unknown, code: ErrorCode, message?: string): LiaisonError {
  if (err instanceof LiaisonError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new LiaisonError(code, message ? `${message}: ${text}` : text, {}, { cause: err });
}
