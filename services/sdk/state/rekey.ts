/**
 * Moving KV entries written under an older key format to their current key, once, on start. Each store
 * says how to read one entry (its `plan`); this runs the plan over the bucket: bounded, idempotent (an
 * entry already at its new key is kept as it is, the old key removed) and counted.
 *
 * @module
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { agencyJetStream } from '../client/agency-js.ts';
import { asLiaisonError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { KvReader } from './kv-reader.ts';
import { StoredReader } from './stored.ts';

/** One stored entry as the migration sees it. */
export interface RekeyEntry {
  key: string;
  value: Uint8Array;
}

/** What a store's plan says of one entry. */
export type RekeyVerdict =
  /** Not of the old format: left alone. */
  | { kind: 'current' }
  /** Of the old format, and its new key is known. */
  | { kind: 'move'; to: string }
  /** Of the old format, but nothing in it names its new key: left in place and reported. */
  | { kind: 'unresolved'; why: string };

/** The writes a migration needs on the bucket. */
export interface RekeyTarget {
  /** Create `key` with `value`; false when the key exists already (then it is kept). */
  create(key: string, value: Uint8Array): Promise<boolean>;
  delete(key: string): Promise<void>;
}

/** What one migration did. */
export interface RekeyCounts {
  scanned: number;
  moved: number;
  /** Old entries whose new key already held a value (written since): the old one was removed. */
  superseded: number;
  unresolved: number;
  /** True when the scan stopped at its bound before the end of the bucket. */
  truncated: boolean;
}

/** Most entries one start looks at (the rest are migrated on the next start). */
export const MAX_REKEY_SCAN = 100_000;

/**
 * Apply `plan` to every entry of `entries` (at most `max`), moving each old-format one to its new key
 * and removing the old key. Logs the counts once, at info when something moved or warn when some entry
 * could not be resolved.
 */
export async function rekey(
  o: { what: string; entries: AsyncIterable<RekeyEntry>; plan: (e: RekeyEntry) => RekeyVerdict | Promise<RekeyVerdict>; target: RekeyTarget; logger?: Logger; max?: number },
): Promise<RekeyCounts> {
  const counts: RekeyCounts = { scanned: 0, moved: 0, superseded: 0, unresolved: 0, truncated: false };
  const max = o.max ?? MAX_REKEY_SCAN;
  for await (const e of o.entries) {
    if (counts.scanned >= max) {
      counts.truncated = true;
      break;
    }
    counts.scanned++;
    const verdict = await o.plan(e);
    if (verdict.kind === 'current') continue;
    if (verdict.kind === 'unresolved') {
      counts.unresolved++;
      o.logger?.warn({ key: e.key, why: verdict.why }, `${o.what}: an entry of the old key format could not be migrated`);
      continue;
    }
    if (await o.target.create(verdict.to, e.value)) counts.moved++;
    else counts.superseded++;
    await o.target.delete(e.key);
  }
  if (counts.moved + counts.superseded + counts.unresolved > 0 || counts.truncated) {
    const level = counts.unresolved > 0 || counts.truncated ? 'warn' : 'info';
    o.logger?.[level]({ ...counts }, `${o.what}: migrated entries written before keys were (sender, id)`);
  }
  return counts;
}

/** True when a KV error says the key exists already (create refused). */
export function isKeyExists(err: unknown): boolean {
  return /wrong last sequence|key exists|10071|10164/i.test(String((err as { message?: unknown })?.message ?? err));
}

/** A KV bucket as a rekey target: create-if-absent (false when the key exists) and delete; a failed write is ERR_PUBLISH. */
export function kvTarget(kv: KV): RekeyTarget {
  return {
    async create(key, value) {
      try {
        await kv.create(key, value);
        return true;
      } catch (err) {
        if (isKeyExists(err)) return false;
        throw asLiaisonError(err, 'ERR_PUBLISH', `cannot create ${key} (moving it to its new key)`);
      }
    },
    async delete(key) {
      try {
        await kv.delete(key);
      } catch (err) {
        throw asLiaisonError(err, 'ERR_PUBLISH', `cannot delete ${key} (its entry moved to its new key)`);
      }
    },
  };
}

/**
 * Runs one request of a migration — a step of its scan, or one write — named `what` (default: as it is). A service
 * gives its ReadGate's `readAcross` (issue 16): a request cut by a drop is made again at the reconnect, at once,
 * instead of failing the start after nats.js's timeout. Each request is safe to repeat: a scan step reads by sequence;
 * a create whose answer was lost finds its own value at the key (counted superseded), a delete is idempotent.
 */
export type RekeyRequests = <T>(what: string, request: () => Promise<T>) => Promise<T>;

/** Each request as it is. */
const direct: RekeyRequests = async (_what, request) => await request();

/** The header nats.js KV writes on a delete or purge marker. */
const KV_OPERATION = 'KV-Operation';

/**
 * The current values of the keys of `bucket` matching `keyFilter`, up to the stream's last sequence when the scan
 * started (the latest entry of each key; removed keys left out), one direct get at a time, each through `requests`.
 */
async function* currentValues(stored: StoredReader, bucket: string, keyFilter: string, requests: RekeyRequests): AsyncGenerator<RekeyEntry> {
  const prefix = `$KV.${bucket}.`;
  const filter = prefix + keyFilter;
  const { first, last } = await requests(`${keyFilter} of ${bucket} (a scan: the bucket's bounds)`, () => stored.bounds());
  const latest = new Map<string, Uint8Array | undefined>();
  for (let seq = Math.max(1, first); seq <= last; ) {
    const at = seq;
    const m = await requests(`${keyFilter} of ${bucket} (a scan, from sequence ${at})`, () => stored.next(filter, at));
    if (!m || m.seq > last) break;
    const op = m.header?.get(KV_OPERATION);
    // In stream order: a later entry of a key replaces an earlier one; a removal marker leaves it out.
    latest.set(m.subject.slice(prefix.length), op === 'DEL' || op === 'PURGE' || m.data.length === 0 ? undefined : m.data);
    seq = m.seq + 1;
  }
  for (const [key, value] of latest) if (value) yield { key, value };
}

/** `target` with each write through `requests`. */
function targetThrough(target: RekeyTarget, bucket: string, requests: RekeyRequests): RekeyTarget {
  return {
    create: async (key, value) => await requests(`the create of ${key} in ${bucket}`, () => target.create(key, value)),
    delete: async (key) => await requests(`the delete of ${key} in ${bucket}`, () => target.delete(key)),
  };
}

/**
 * The entries and writes of a KV bucket the agency owns, as a migration needs them: the current values
 * of the keys matching `keyFilter` (a NATS subject filter such as `facts.*`, which the server applies,
 * so a start after the migration reads next to nothing) by direct get (agencies have no consumer rights
 * on their buckets), writes through the agency's JetStream; every request of the scan and every write
 * through `requests` ({@link RekeyRequests}). `reader` reads other keys of the bucket (not through `requests`).
 */
export async function agencyBucket(
  nc: NatsConnection,
  bucket: string,
  keyFilter: string,
  requests: RekeyRequests = direct,
): Promise<{ entries: AsyncIterable<RekeyEntry>; target: RekeyTarget; reader: KvReader }> {
  const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
  const reader = await KvReader.open(nc, bucket);
  const stored = await StoredReader.open(nc, `KV_${bucket}`);
  return {
    entries: currentValues(stored, bucket, keyFilter, requests),
    reader,
    target: targetThrough(kvTarget(kv), bucket, requests),
  };
}
