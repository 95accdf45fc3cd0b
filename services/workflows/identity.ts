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

/**
 * The key of the case `m` opens. A definition derives some keys from the message id alone
 * (`case-referral.<id>`); an agency that learnt the id in advance could open that case first and have
 * the genuine opening refused as a duplicate. When the case at such a key was opened by another
 * agency, `m` opens its own case at `<key>.<sender>` (ids are UUIDv7, so no opening message's own key
 * can take that form); later messages find it through the alias of (sender, id). `caseAt` reads the
 * case at a key (the mirror, else the bucket).
 */
export async function openingKey(defName: string, key: string, m: Pick<WorkflowMessage, 'sender' | 'id'>, caseAt: (key: string) => Promise<CaseRecord | undefined>): Promise<string> {
  if (key !== `${defName}.${m.id}`) return key;
  const taken = await caseAt(key);
  return taken && taken.requester !== m.sender ? `${key}.${m.sender}` : key;
}
