/**
 * A message is (sender, id) in the case registry. Ids come from the sender, so an id alone names
 * nothing: another agency may send a message with the same id. A case records which messages it
 * applied in its timeline (each step names its message id and its actor, the verified sender), and
 * a reference that names a message by id alone (causation_id, request_id, referral_id…) is resolved
 * only within the agencies that may own that message.
 *
 * @module
 */
import type { CaseRecord, CaseStep, WorkflowMessage } from './model.ts';

/** True when `s` is the step of `sender`'s message `id`. */
export function isStepOf(s: CaseStep, sender: string, id: string): boolean {
  return s.messageId === id && s.actor === sender;
}

/** True when the case applied `sender`'s message `id` (a redelivery never applies twice; another sender's message with that id is another message). */
export function appliedFrom(c: CaseRecord, sender: string, id: string): boolean {
  return c.timeline.some((s) => isStepOf(s, sender, id));
}

/**
 * Who may own the message a reference of `m` names by id alone: the agency `m` answers (its
 * recipient: a reply's causation belongs to the request's sender) and `m`'s own sender (an update
 * naming its own earlier message). Never a third agency.
 */
export function referenceOwners(m: Pick<WorkflowMessage, 'sender' | 'recipient'>): string[] {
  return [...new Set([m.recipient, m.sender])].filter((a) => a !== 'all');
}
