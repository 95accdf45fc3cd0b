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
import type { NatsConnection } from '@nats-io/transport-node';
import { ReadGate } from '../sdk/client/read-gate.ts';
import type { RetractionRecord } from '../sdk/client/retract.ts';
import type { Logger } from '../sdk/logging.ts';
import { kvTarget, rekey, type RekeyCounts, type RekeyEntry, type RekeyRequests, type RekeyTarget, type RekeyVerdict } from '../sdk/state/rekey.ts';
import { RETRACTIONS_BUCKET, retractionKey } from './retract-service.ts';

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
 * The entries whose key is one token (the exchange's administrator may list keys): old keys are the original's UUIDv7
 * alone, current ones `<sender>.<id>`, so a start after the migration reads none. The listing (whole, so it can be
 * made again) and each read through `requests`.
 */
async function* entriesOf(kv: KV, requests: RekeyRequests): AsyncGenerator<RekeyEntry> {
  const keys = await requests(`the one-token keys of ${RETRACTIONS_BUCKET}`, async () => {
    const all: string[] = [];
    for await (const key of await kv.keys('*')) all.push(key);
    return all;
  });
  for (const key of keys) {
    const e = await requests(`the record ${key} of ${RETRACTIONS_BUCKET}`, () => kv.get(key));
    if (e && e.operation === 'PUT' && e.value.length > 0) yield { key, value: e.value };
  }
}

/** `kv` as a rekey target, each write through `requests`. */
function targetOf(kv: KV, requests: RekeyRequests): RekeyTarget {
  const target = kvTarget(kv);
  return {
    create: async (key, value) => await requests(`the create of ${key} in ${RETRACTIONS_BUCKET}`, () => target.create(key, value)),
    delete: async (key) => await requests(`the delete of ${key} in ${RETRACTIONS_BUCKET}`, () => target.delete(key)),
  };
}

/**
 * Move every old-format retraction record to its (sender, id) key; idempotent, bounded, logged with counts. `kv` is
 * the bucket opened on the exchange administrator's connection `nc`. Each request — the listing of old keys, each
 * read, create and delete — goes through a {@link ReadGate} (issue 16), as the centre's and the case registry's
 * migrations do: on a cluster the administrator's connection moves to a surviving node when its node dies, and a
 * request whose answer that drop lost is made again at the reconnect instead of failing the migration after nats.js's
 * timeout (the retraction service would then answer its callers with that failure until a later request migrated
 * again). Only a connection closed for good fails it.
 */
export async function migrateRetractions(nc: NatsConnection, kv: KV, logger?: Logger): Promise<RekeyCounts> {
  const gate = new ReadGate(nc, 'ERR_EXCHANGE');
  try {
    const requests: RekeyRequests = async (what, request) => await gate.readAcross(what, request);
    return await rekey({ what: 'retraction records', entries: entriesOf(kv, requests), plan: planRetraction, logger, target: targetOf(kv, requests) });
  } finally {
    gate.close();
  }
}
