/**
 * Whole-bucket reads of a KV bucket by direct get (agencies have no consumer rights on their buckets), each step — the
 * stream's bounds, then each direct get — through a wrapper the caller gives (issue 16): the centre's ReadGate `read`
 * (a scan awaiting an answer when the connection drops fails at once, typed, never resolved with the entries read so
 * far as if they were the bucket; one asked for while down starts at the reconnect), a migration's `readAcross` (the
 * step is made again at the reconnect). The server filters by key (a NATS subject filter under the bucket), so a scan
 * reads only the kind of entry it asks for.
 */
import type { StoredReader } from './stored.ts';

/** One key's latest stored value (a removal marker's is left out). */
export interface ScannedValue {
  key: string;
  value: Uint8Array;
  /** Stream sequence of the entry: the compare-and-set token. */
  revision: number;
}

/** The header nats.js KV writes on a delete or purge marker. */
const KV_OPERATION = 'KV-Operation';

/** Runs one step of a scan, named `what` in a failure (a ReadGate's `read` or `readAcross`). */
export type ScanStep = <T>(what: string, read: () => Promise<T>) => Promise<T>;

/** Each step as it is: a lost answer waits out nats.js's timeout. */
export const directStep: ScanStep = async (_what, read) => await read();

/** Scans of one KV bucket's stream by direct get, each step through a {@link ScanStep}. */
export class BucketScan {
  readonly #stored: StoredReader;
  readonly #prefix: string;
  readonly #step: ScanStep;
  readonly #named: string;

  /** Scan the bucket `bucket` stored in `stored` (its stream `KV_<bucket>`); `named` follows the key filter in a failure's name. */
  constructor(stored: StoredReader, bucket: string, step: ScanStep = directStep, named = '') {
    this.#stored = stored;
    this.#prefix = `$KV.${bucket}.`;
    this.#step = step;
    this.#named = named;
  }

  /**
   * The current values of the keys matching `keyFilter` (a NATS subject filter on the key: `facts.>`,
   * `facts.*.<id>`): the latest entry of each key up to the stream's last sequence when the scan started, removed
   * keys left out. Rejects when any step fails: a scan is returned whole or not at all.
   */
  async values(keyFilter: string): Promise<ScannedValue[]> {
    const filter = this.#prefix + keyFilter;
    const { first, last } = await this.#step(`${keyFilter}${this.#named} (a scan: the bucket's bounds)`, () => this.#stored.bounds());
    const latest = new Map<string, ScannedValue | undefined>();
    for (let seq = Math.max(1, first); seq <= last; ) {
      const at = seq;
      const m = await this.#step(`${keyFilter}${this.#named} (a scan, from sequence ${at})`, () => this.#stored.next(filter, at));
      if (!m || m.seq > last) break;
      const op = m.header?.get(KV_OPERATION);
      const key = m.subject.slice(this.#prefix.length);
      // In stream order: a later entry of a key replaces an earlier one; a removal marker leaves it out.
      latest.set(key, op === 'DEL' || op === 'PURGE' || m.data.length === 0 ? undefined : { key, value: m.data, revision: m.seq });
      seq = m.seq + 1;
    }
    return [...latest.values()].filter((v): v is ScannedValue => v !== undefined);
  }
}
