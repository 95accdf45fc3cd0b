/**
 * Centre facts written before a message was (sender, id): they were keyed `facts.<id>`; they are now
 * `facts.<sender>.<id>` (CorrelationStore). Each entry records its sender (`agency`) and message id, so
 * an old entry is told apart from a current one by its value: it is old exactly when its key is
 * `facts.<messageId>`. Occurrences in the value records always carried their sender: nothing else moves.
 *
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ReadGate } from '../sdk/client/read-gate.ts';
import type { Logger } from '../sdk/logging.ts';
import { agencyBucket, rekey, type RekeyCounts, type RekeyEntry, type RekeyVerdict } from '../sdk/state/rekey.ts';
import type { MessageFacts } from './facts.ts';

/** Key prefix of the facts in the correlation bucket (as CorrelationStore writes them). */
const FACTS = 'facts.';
const decoder = new TextDecoder();

/** What an entry under `facts.` is: current, or old with the key it moves to. */
export function planFacts(e: RekeyEntry): RekeyVerdict {
  let f: Partial<MessageFacts>;
  try {
    f = JSON.parse(decoder.decode(e.value)) as Partial<MessageFacts>;
  } catch {
    return { kind: 'unresolved', why: 'not JSON' };
  }
  if (typeof f.agency !== 'string' || typeof f.messageId !== 'string' || f.agency === '' || f.messageId === '') {
    return { kind: 'unresolved', why: 'the facts name no sender or message id' };
  }
  const current = `${FACTS}${f.agency}.${f.messageId}`;
  if (e.key === current) return { kind: 'current' };
  if (e.key === FACTS + f.messageId) return { kind: 'move', to: current };
  return { kind: 'unresolved', why: `the key is neither ${FACTS}${f.messageId} nor ${current}` };
}

/**
 * Move every old-format facts entry of the centre's bucket to its (sender, id) key; idempotent, bounded, logged with
 * counts. Each request — every step of the scan, every create and delete — goes through a {@link ReadGate} (issue 16):
 * one whose answer a dropped connection lost is made again at the reconnect, at once, so a drop during the centre's
 * start delays it instead of failing it after nats.js's timeout; asked while the connection is down, it waits for the
 * reconnect. Only a connection closed for good fails it (ERR_EXCHANGE).
 */
export async function migrateCentreFacts(nc: NatsConnection, bucket: string, logger?: Logger): Promise<RekeyCounts> {
  const gate = new ReadGate(nc, 'ERR_EXCHANGE');
  try {
    // Old keys are `facts.<UUIDv7>`, one token; current ones `facts.<sender>.<id>`: only old ones are read.
    const { entries, target } = await agencyBucket(nc, bucket, `${FACTS}*`, async (what, request) => await gate.readAcross(what, request));
    return await rekey({ what: 'centre facts', entries, target, plan: planFacts, logger });
  } finally {
    gate.close();
  }
}
