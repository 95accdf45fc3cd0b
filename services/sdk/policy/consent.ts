import { LiaisonError } from '../errors.ts';
import type { Policy } from './model.ts';

/** The type of the originator's answer that grants (or refuses) onward dissemination. */
export const CONSENT_RESPONSE_TYPE = 'DisseminationConsentResponse';

const GRANTED = ['CONSENT_DECISION_GRANTED', 'CONSENT_DECISION_GRANTED_WITH_CONDITIONS'];

/**
 * The originator's consent as the receive pipeline handed it to the onward sender: a verified
 * DisseminationConsentResponse (its signed header and body, as `ReceivedMessage` carries them).
 */
export interface ConsentEvidence {
  type: string;
  header: { id: string; sender: string; recipient: string };
  body: Record<string, unknown>;
}

/** An onward send to check against the policy's `consent` list. */
export interface ConsentRequest {
  sender: string;
  type: string;
  /** Agency id, or `all`. */
  recipient: string;
  /** The body as protobuf JSON (camelCase). */
  body: Record<string, unknown>;
  /** The originator's consent, when the sender has one. */
  consent?: ConsentEvidence;
  now: number;
}

const text = (body: Record<string, unknown>, field: string): string => (typeof body[field] === 'string' ? (body[field] as string) : '');

function refuse(req: ConsentRequest, originator: string, why: string): never {
  throw new LiaisonError(
    'ERR_CONSENT_REQUIRED',
    `${req.sender} may not pass ${req.type} from ${originator} on to ${req.recipient} without ${originator}'s prior consent: ${why}`,
    { sender: req.sender, type: req.type, recipient: req.recipient, originator, rule: 'consent' },
  );
}

/** The first reason the evidence does not grant this send, or undefined when it does. */
function consentProblem(req: ConsentRequest, originator: string, c: ConsentEvidence): string | undefined {
  const reportId = text(req.body, 'originalReportId');
  if (c.type !== CONSENT_RESPONSE_TYPE) return `the consent given is a ${c.type}, not a ${CONSENT_RESPONSE_TYPE}`;
  if (c.header.sender !== originator) return `the consent is signed by ${c.header.sender}, not by the originator`;
  if (c.header.recipient !== req.sender) return `the consent was given to ${c.header.recipient}, not to ${req.sender}`;
  if (!GRANTED.includes(text(c.body, 'decision'))) return `the originator's answer is ${text(c.body, 'decision') || 'no decision'}, not a grant`;
  if (!reportId) return 'the body names no original_report_id (the report passed on)';
  if (text(c.body, 'reportId') !== reportId) return `the consent is for report ${text(c.body, 'reportId') || '(none)'}, not ${reportId}`;
  const granted = Array.isArray(c.body.grantedRecipients) ? c.body.grantedRecipients.map(String) : [];
  if (!granted.includes(req.recipient)) return `the consent names ${granted.join(', ') || 'no recipient'}, not ${req.recipient}`;
  const until = Date.parse(text(c.body, 'validUntil'));
  if (!Number.isNaN(until) && until <= req.now) return `the consent lapsed at ${text(c.body, 'validUntil')}`;
  if (text(req.body, 'consentId') !== text(c.body, 'requestId')) return `the body's consent_id (${text(req.body, 'consentId') || 'empty'}) does not name the consent request ${text(c.body, 'requestId') || '(none)'} this grant answers`;
  return undefined;
}

/**
 * The policy's prior-consent rule, checked at send like handling codes (¶9(c), Egmont principles): a
 * message of a type the policy's `consent` list names, whose body names an `originator` other than its
 * sender, is an onward dissemination. It goes only to a named recipient, and only with the originator's
 * DisseminationConsentResponse addressed to the sender that grants this report (`original_report_id`)
 * to this recipient, not lapsed, answering the consent request the body's `consent_id` names (the consent
 * case at the case registry). Throws ERR_CONSENT_REQUIRED.
 */
export function checkConsent(policy: Policy, req: ConsentRequest): void {
  if (!policy.consent?.includes(req.type)) return;
  const originator = text(req.body, 'originator');
  if (!originator || originator === req.sender) return;
  if (req.recipient === 'all') refuse(req, originator, 'onward dissemination goes to named recipients only, never by broadcast');
  if (!req.consent) refuse(req, originator, `no ${CONSENT_RESPONSE_TYPE} given (send it with the consent option)`);
  const problem = consentProblem(req, originator, req.consent);
  if (problem) refuse(req, originator, problem);
}
