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
import type { Logger } from '../logging.ts';
import { KvReader, type KvValue } from './kv-reader.ts';

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

/** A KV bucket as a rekey target: create-if-absent (false when the key exists) and delete. */
export function kvTarget(kv: KV): RekeyTarget {
  return {
    async create(key, value) {
      try {
        await kv.create(key, value);
        return true;
      } catch (err) {
        if (isKeyExists(err)) return false;
        throw err;
      }
    },
    async delete(key) {
      await kv.delete(key);
    },
  };
}

/**
 * The entries and writes of a KV bucket the agency owns, as a migration needs them: the current values
 * of the keys matching `keyFilter` (a NATS subject filter such as `facts.*`, which the server applies,
 * so a start after the migration reads next to nothing) by direct get ({@link KvReader}: agencies have
 * no consumer rights on their buckets), writes through the agency's JetStream.
 */
export async function agencyBucket(nc: NatsConnection, bucket: string, keyFilter: string): Promise<{ entries: AsyncIterable<RekeyEntry>; target: RekeyTarget; reader: KvReader }> {
  const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
  const reader = await KvReader.open(nc, bucket);
  async function* entries(): AsyncGenerator<RekeyEntry> {
    const latest = new Map<string, KvValue>();
    for await (const v of reader.entriesMatching(keyFilter)) {
      const known = latest.get(v.key);
      if (!known || known.revision < v.revision) latest.set(v.key, v);
    }
    for (const [key, v] of latest) if (v.value && v.value.length > 0) yield { key, value: v.value };
  }
  return {
    entries: entries(),
    reader,
    target: kvTarget(kv),
  };
}
