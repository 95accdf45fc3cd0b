import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { LiaisonError } from '../errors.ts';
import { msgIdTag } from '../envelope/msg-id-tag.ts';
import { quarantineSubject } from '../subjects.ts';
import type { Delivery, ReceiveLoopOptions } from './consume.ts';

/** The headers of a quarantined copy: the refusal's code and reason, and the subject it arrived on. */
export function quarantineHeaders(e: LiaisonError, subject: string): MsgHdrs {
  const h = natsHeaders();
  h.set('liaison-reject-code', e.code);
  h.set('liaison-reject-reason', e.message.slice(0, 512));
  h.set('liaison-original-subject', subject);
  return h;
}

/**
 * The de-duplication id of a quarantine record: `<self> <kind> <sender> <id> <tag>`. Every agency's
 * quarantine is one stream, so the quarantining agency is part of it (two agencies quarantining the
 * same broadcast each keep their record), and the tag (msg-id-tag.ts, under the agency's key) keeps
 * another agency from storing a record first under this id and so suppressing this one.
 */
export function quarantineMsgId(self: string, q: { kind: string; sender: string; id: string }, msgIdKey?: Uint8Array): string {
  const base = `${self} ${q.kind} ${q.sender} ${q.id}`;
  // The tier slot holds 'quarantine', which no message tier is: these tags never equal a copy's.
  return msgIdKey ? `${base} ${msgIdTag(msgIdKey, self, `${q.kind} ${q.sender} ${q.id}`, 'quarantine')}` : base;
}

/**
 * Put a verified copy on the agency's quarantine durably (JetStream-acknowledged, de-duplicated by {@link quarantineMsgId})
 * with its sender, id, delivery count and where it was delivered from (stream, sequence, consumer) — and, when given, the verified id and original type as CloudEvents
 * headers, so the audit's quarantine entry names the message. Throws when the quarantine cannot be written.
 */
export async function quarantineDurably(
  o: Pick<ReceiveLoopOptions, 'nc' | 'self' | 'msgIdKey'>,
  m: Delivery,
  e: LiaisonError,
  q: { kind: string; sender: string; id: string; deliveryCount: number; ce?: { id: string; type?: string } },
): Promise<void> {
  const h = quarantineHeaders(e, m.subject);
  h.set('liaison-sender', q.sender);
  h.set('liaison-msg-id', q.id);
  h.set('liaison-delivery-count', String(q.deliveryCount));
  if (m.info) {
    // Where it was delivered from: what `liaison quarantine replay` has the agency's consumer re-deliver.
    h.set('liaison-original-stream', m.info.stream);
    h.set('liaison-original-seq', String(m.info.streamSequence));
    h.set('liaison-consumer', m.info.consumer);
  }
  if (q.ce) {
    h.set('ce-id', q.ce.id);
    if (q.ce.type) h.set('ce-type', q.ce.type);
  }
  await jetstream(o.nc).publish(quarantineSubject(o.self), m.data, { headers: h, msgID: quarantineMsgId(o.self, q, o.msgIdKey) });
}
