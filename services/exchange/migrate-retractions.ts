/**
 * Retraction records written before a message was (sender, id): they were keyed by the original's id
 * alone (`<id>`); they are now keyed `<sender>.<id>` ({@link retractionKey}). Each record names its
 * sender and original id, so an old entry is told apart from a current one by its value, never by
 * guessing at dots in the key: it is old exactly when its key is the id it records.
 *
 * Caveat: a record written before the fix may name as sender an agency that was not the original's
 * sender (the retract service then checked only the first copy it found). It is moved under the sender
 * it names, which is the agency that did retract; the real sender's own retraction is then possible.
 *
 * @module
 */
import type { KV } from '@nats-io/kv';
import type { RetractionRecord } from '../sdk/client/retract.ts';
import type { Logger } from '../sdk/logging.ts';
import { kvTarget, rekey, type RekeyCounts, type RekeyEntry, type RekeyVerdict } from '../sdk/state/rekey.ts';
import { retractionKey } from './retract-service.ts';

const decoder = new TextDecoder();

/** What an entry of the retraction bucket is: current, or old with the key it moves to. */
export function planRetraction(e: RekeyEntry): RekeyVerdict {
  let r: Partial<RetractionRecord>;
  try {
    r = JSON.parse(decoder.decode(e.value)) as Partial<RetractionRecord>;
  } catch {
    return { kind: 'unresolved', why: 'not JSON' };
  }
  if (typeof r.sender !== 'string' || typeof r.originalId !== 'string' || r.sender === '' || r.originalId === '') {
    return { kind: 'unresolved', why: 'the record names no sender or original id' };
  }
  const current = retractionKey(r.sender, r.originalId);
  if (e.key === current) return { kind: 'current' };
  if (e.key === r.originalId) return { kind: 'move', to: current };
  return { kind: 'unresolved', why: `the key is neither the record's id nor ${current}` };
}

/**
 * The entries whose key is one token (the exchange's administrator may list keys): old keys are the
 * original's UUIDv7 alone, current ones `<sender>.<id>`, so a start after the migration reads none.
 */
async function* entriesOf(kv: KV): AsyncGenerator<RekeyEntry> {
  for await (const key of await kv.keys('*')) {
    const e = await kv.get(key);
    if (e && e.operation === 'PUT' && e.value.length > 0) yield { key, value: e.value };
  }
}

/** Move every old-format retraction record to its (sender, id) key; idempotent, bounded, logged with counts. */
export async function migrateRetractions(kv: KV, logger?: Logger): Promise<RekeyCounts> {
  return await rekey({
    what: 'retraction records',
    entries: entriesOf(kv),
    plan: planRetraction,
    logger,
    target: kvTarget(kv),
  });
}
