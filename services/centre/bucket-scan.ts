/**
 * Whole-bucket reads of the centre's correlation bucket that follow the connection (issue 16), as its reads of one key
 * do ({@link ReadGate}): the stream's bounds and each direct get of the scan go through the gate, so a scan awaiting an
 * answer when the connection drops fails at once ("connection lost … read it again", typed) — never after nats.js's
 * request timeout, and never resolved with the entries read so far as if they were the bucket — and a scan (or its
 * next step) asked for while the connection is down starts once it is back. The server filters by key (a NATS
 * subject filter under the bucket), so a scan reads only the kind of entry it asks for.
 */
import type { ReadGate } from '../sdk/client/read-gate.ts';
import type { StoredReader } from '../sdk/state/stored.ts';

/** One key's latest stored value (a removal marker's is left out). */
export interface ScannedValue {
  key: string;
  value: Uint8Array;
  /** Stream sequence of the entry: the compare-and-set token. */
  revision: number;
}

/** The header nats.js KV writes on a delete or purge marker. */
const KV_OPERATION = 'KV-Operation';

/** Scans of one KV bucket's stream by direct get, through a gate when there is one. */
export class BucketScan {
  readonly #stored: StoredReader;
  readonly #prefix: string;
  readonly #gate?: ReadGate;

  /** Scan the bucket `bucket` stored in `stored` (its stream `KV_<bucket>`); without `gate`, reads wait out nats.js's timeout. */
  constructor(stored: StoredReader, bucket: string, gate?: ReadGate) {
    this.#stored = stored;
    this.#prefix = `$KV.${bucket}.`;
    this.#gate = gate;
  }

  /** One step of a scan, named `what` in a failure. */
  async #read<T>(what: string, read: () => Promise<T>): Promise<T> {
    return this.#gate ? await this.#gate.read(what, read) : await read();
  }

  /**
   * The current values of the keys matching `keyFilter` (a NATS subject filter on the key: `facts.>`,
   * `facts.*.<id>`): the latest entry of each key up to the stream's last sequence when the scan started, removed
   * keys left out. Rejects when any step fails: a scan is returned whole or not at all.
   */
  async values(keyFilter: string): Promise<ScannedValue[]> {
    const filter = this.#prefix + keyFilter;
    const { first, last } = await this.#read(`${keyFilter} (a scan: the bucket's bounds)`, () => this.#stored.bounds());
    const latest = new Map<string, ScannedValue | undefined>();
    for (let seq = Math.max(1, first); seq <= last; ) {
      const at = seq;
      const m = await this.#read(`${keyFilter} (a scan, from sequence ${at})`, () => this.#stored.next(filter, at));
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
