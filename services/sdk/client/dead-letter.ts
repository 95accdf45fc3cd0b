import type { ReceivedMessage } from '../envelope/open.ts';
import { LiaisonError } from '../errors.ts';
import type { Delivery, ReceiveLoopOptions } from './consume.ts';
import { quarantineDurably } from './quarantine.ts';
import { markDeadLettered } from './quarantine-record.ts';
import { systemClock } from '../clock.ts';

/**
 * Dead letters. JetStream stops delivering a copy after the consumer's `max_deliver` and tells nobody,
 * so the receiver settles it one step earlier itself: the handler gets a copy at most
 * `max(1, max_deliver − 1)` times. A copy whose handler failed on that last attempt, or that arrives
 * for the final time JetStream would deliver it (its earlier copies timed out unsettled), is put on the
 * agency's quarantine as ERR_DEAD_LETTER with its delivery count, counted, logged and terminated.
 */

function deliveryCount(m: Delivery): number {
  return m.info?.deliveryCount ?? 1;
}

/** The last delivery on which the handler runs; undefined when the consumer has no delivery limit. */
function lastAttemptAt(o: ReceiveLoopOptions): number | undefined {
  return o.maxDeliver !== undefined && o.maxDeliver > 0 ? Math.max(1, o.maxDeliver - 1) : undefined;
}

/** A failure of the handler on this copy is final: dead-letter it instead of asking for a redelivery. */
export function isLastAttempt(o: ReceiveLoopOptions, m: Delivery): boolean {
  const at = lastAttemptAt(o);
  return at !== undefined && deliveryCount(m) >= at;
}

/** This copy comes after the last attempt (earlier copies timed out unsettled): dead-letter it without the handler. */
export function isPastLastAttempt(o: ReceiveLoopOptions, m: Delivery): boolean {
  const at = lastAttemptAt(o);
  return at !== undefined && deliveryCount(m) > at;
}

/** The reason of a dead letter: the handler's last error, or the timeouts. */
export function deadLetterReason(m: Delivery, handlerError?: unknown): string {
  const n = deliveryCount(m);
  if (handlerError === undefined) return `delivered ${n} times without being settled (earlier copies timed out): dead-lettered before JetStream's delivery limit drops it`;
  const why = handlerError instanceof Error ? handlerError.message : String(handlerError);
  return `the handler failed on delivery ${n}, its last attempt: ${why}`;
}

/**
 * Put one copy on the agency's quarantine as ERR_DEAD_LETTER (JetStream-acknowledged, de-duplicated by
 * sender and id) with its sender, id and delivery count, then terminate it. If the quarantine cannot be
 * written the copy is nak'ed (and the failure logged as an error): it is never terminated unrecorded.
 * Never throws.
 */
export async function deadLetter(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, reason: string): Promise<void> {
  const { sender, id } = msg.header;
  const count = deliveryCount(m);
  const e = new LiaisonError('ERR_DEAD_LETTER', `message ${id} of ${sender} (${msg.type}): ${reason}`, { sender, id, deliveryCount: count });
  try {
    // The verified id and the original type ride along, so the audit ledger's quarantine entry names the message.
    await quarantineDurably(o, m, e, { kind: 'dead-letter', sender, id, deliveryCount: count, ce: { id, type: m.headers?.get('ce-type') || undefined } });
  } catch (err) {
    o.logger.error({ err, msgId: id, sender, deliveryCount: count }, 'could not dead-letter a message to quarantine; it is redelivered if JetStream allows');
    m.nak(1_000);
    return;
  }
  // Its released claim becomes `quarantined`: only a replay the agency's operator decides hands it to the handler again.
  if (o.handled) await markDeadLettered(o.nc, o.self, o.handled.keyOf(sender, id), systemClock).catch((err: unknown) => o.logger.warn({ err, msgId: id, sender }, 'dead-lettered, but its handled record entry is still free'));
  o.stats.rejected[e.code] = (o.stats.rejected[e.code] ?? 0) + 1;
  o.logger.warn({ code: e.code, subject: m.subject, sender, msgId: id, deliveryCount: count }, `dead-lettered: ${e.message}`);
  m.term();
  try {
    o.onReject?.({ code: e.code, reason: e.message, subject: m.subject, claimedSender: sender });
  } catch (err) {
    o.logger.warn({ err }, 'onReject callback failed');
  }
}
