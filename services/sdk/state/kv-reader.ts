import type { StoredMsg } from '@nats-io/jetstream';
import { bucketChangesSubject } from '../subjects.ts';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { LiaisonError } from '../errors.ts';
import { MissedChanges } from './missed-changes.ts';
import { StoredReader } from './stored.ts';

/** One key's current value in a KV bucket, or its removal (`value` undefined). */
export interface KvValue {
  key: string;
  /** Stream sequence of the stored entry: the compare-and-set token. */
  revision: number;
  /** The value; undefined when the key was deleted or purged (or is gone). */
  value?: Uint8Array;
}

/** How {@link KvReader.follow} reports what it sees. */
export interface FollowOptions {
  /** Called with every current value of the initial scan, then with every later change (removals too). */
  onValue(v: KvValue): void;
  /** A re-read after a change failed (the watch goes on; the next change of the key reads it again). */
  onError?(err: LiaisonError): void;
  /**
   * The revision of `key` the caller holds already (its own write, acknowledged), if any: a change
   * notice at or below it is not re-read (issue 16 item 3: a writer re-read each of its own writes).
   */
  revisionOf?(key: string): number | undefined;
  /**
   * Runs each read the follow makes — the first load of every entry, each re-read of a changed key, the changes missed
   * while the connection was down — (default: as it is). The case registry gives its ReadGate's `readAcross`: a read cut
   * by a drop is made again at the reconnect instead of waiting out nats.js's timeout (and, for a re-read, being dropped).
   */
  reread?<T>(key: string, read: () => Promise<T>): Promise<T>;
}

/** A running follow; `stop()` ends the live subscription and drops the changes not yet re-read (nothing is reported after it). */
export interface Following {
  stop(): void;
  /** Changes re-read from the stream so far. */
  readonly rereads: number;
  /** Changes not re-read because the caller held that revision already ({@link FollowOptions.revisionOf}). */
  readonly skipped: number;
}

/** The header a republished change notice carries: the stream sequence (revision) of the change. */
const NATS_SEQUENCE = 'Nats-Sequence';

/** The header nats.js KV writes on a delete or purge marker. */
const KV_OPERATION = 'KV-Operation';

/** A stored KV entry as a value: deletes and purges (the `KV-Operation` header) read as removals. */
function toValue(prefix: string, m: StoredMsg): KvValue {
  const key = m.subject.slice(prefix.length);
  const op = m.header?.get(KV_OPERATION);
  return op === 'DEL' || op === 'PURGE' ? { key, revision: m.seq } : { key, revision: m.seq, value: m.data };
}

/**
 * Reads one KV bucket the agency owns without any JetStream consumer: current values by a direct-get
 * scan of `$KV.<bucket>.>`, one key by direct get of its last entry, and live changes through the change
 * notices the exchange republishes for its bucket (`liaison.v1.state.<bucket>.<key>`, headers only), each
 * change re-read from the stream, so only the stored entry counts.
 */
export class KvReader {
  readonly bucket: string;
  readonly #nc: NatsConnection;
  readonly #stored: StoredReader;
  readonly #prefix: string;

  private constructor(nc: NatsConnection, bucket: string, stored: StoredReader) {
    this.#nc = nc;
    this.bucket = bucket;
    this.#stored = stored;
    this.#prefix = `$KV.${bucket}.`;
  }

  /** Bind the bucket `<bucket>` (stream `KV_<bucket>`). */
  static async open(nc: NatsConnection, bucket: string): Promise<KvReader> {
    return new KvReader(nc, bucket, await StoredReader.open(nc, `KV_${bucket}`));
  }

  /** The current value of `key`; undefined when it was never set, was deleted or purged. */
  async get(key: string): Promise<KvValue | undefined> {
    const m = await this.#stored.last(this.#prefix + key);
    if (!m) return undefined;
    const v = toValue(this.#prefix, m);
    return v.value === undefined ? undefined : v;
  }

  /**
   * Every stored entry whose key starts with `keyPrefix` (deletes and purges included, as removals),
   * in stream order, up to the bucket's last sequence when the scan started. A key changed during the
   * scan may appear twice: the later entry wins.
   */
  async *entries(keyPrefix = ''): AsyncGenerator<KvValue> {
    for await (const m of this.#stored.scan(`${this.#prefix}>`)) {
      const v = toValue(this.#prefix, m);
      if (v.key.startsWith(keyPrefix)) yield v;
    }
  }

  /**
   * Every stored entry whose key matches the NATS subject filter `keyFilter` (`facts.*`: one token
   * after `facts.`), filtered by the server, so a scan for a rare kind of key costs what it finds.
   */
  async *entriesMatching(keyFilter: string): AsyncGenerator<KvValue> {
    for await (const m of this.#stored.scan(this.#prefix + keyFilter)) yield toValue(this.#prefix, m);
  }

  /** The current values of the keys starting with `keyPrefix` (the latest entry of each key; removed keys left out). */
  async values(keyPrefix = ''): Promise<Map<string, KvValue>> {
    const latest = new Map<string, KvValue>();
    for await (const v of this.entries(keyPrefix)) {
      const known = latest.get(v.key);
      if (!known || known.revision < v.revision) latest.set(v.key, v);
    }
    for (const [k, v] of latest) if (v.value === undefined) latest.delete(k);
    return latest;
  }

  /**
   * Report the current values, then every later change, to `o.onValue`. The live subscription starts
   * before the scan, so a change made during the scan is not missed (it may be reported twice; a caller
   * keeps the highest revision). Resolves once the scan is reported. Changes made while the connection is down
   * (their notices lost with it) are read at the reconnect ({@link MissedChanges}).
   */
  async follow(o: FollowOptions): Promise<Following> {
    const counts = { rereads: 0, skipped: 0 };
    const prefix = this.#prefix;
    const stored = this.#stored;
    const changed: ChangedKeys = new ChangedKeys((key, revision) => {
      // The caller holds this change already (its own acknowledged write): nothing to read.
      if (revision > 0 && (o.revisionOf?.(key) ?? 0) >= revision) {
        counts.skipped++;
        return undefined;
      }
      counts.rereads++;
      return this.#reread(key, o, () => changed.stopped, (r) => missed.saw(r));
    });
    const missed = new MissedChanges(this.#nc, {
      bucket: this.bucket,
      async *scan(from) {
        for await (const m of stored.scan(`${prefix}>`, from)) yield { key: m.subject.slice(prefix.length), revision: m.seq };
      },
      changed: (key, revision) => changed.add(key, revision),
      ...(o.reread ? { reread: o.reread.bind(o) } : {}),
      ...(o.onError ? { onError: o.onError.bind(o) } : {}),
    });
    const notices = `${bucketChangesSubject(this.bucket)}.`;
    const sub: Subscription = this.#nc.subscribe(`${notices}>`, {
      callback: (err, m) => {
        if (err) return;
        const revision = Number(m.headers?.get(NATS_SEQUENCE) || 0);
        missed.saw(revision);
        changed.add(m.subject.slice(notices.length), revision);
      },
    });
    // The current values, through the reread wrapper too: a load a drop cut part-way is loaded again at the reconnect
    // (the newer load only: what the cut one still reads is not reported).
    let loads = 0;
    const load = async () => {
      const mine = ++loads;
      for await (const v of this.entries()) {
        if (mine !== loads) return;
        missed.saw(v.revision);
        o.onValue(v);
      }
    };
    try {
      await this.#nc.flush();
      await (o.reread ? o.reread(`every entry of ${this.bucket}`, load) : load());
    } catch (err) {
      sub.unsubscribe();
      missed.stop();
      throw err;
    }
    changed.start();
    return {
      stop: () => {
        sub.unsubscribe();
        missed.stop();
        changed.stop();
      },
      get rereads() {
        return counts.rereads;
      },
      get skipped() {
        return counts.skipped;
      },
    };
  }

  async #reread(key: string, o: FollowOptions, stopped: () => boolean, saw: (revision: number) => void): Promise<void> {
    try {
      const read = () => this.#stored.last(this.#prefix + key);
      const m = await (o.reread ? o.reread(key, read) : read());
      if (m) saw(m.seq);
      if (!stopped()) o.onValue(m ? toValue(this.#prefix, m) : { key, revision: 0 });
    } catch (err) {
      if (stopped()) return;
      o.onError?.(err instanceof LiaisonError ? err : new LiaisonError('ERR_EXCHANGE', `cannot re-read ${key} of ${this.bucket}: ${String(err)}`));
    }
  }
}

/**
 * Keys whose change has been seen but not yet re-read, each at most once (memory is bounded by the
 * bucket's key count, whatever the write rate). Held until `start()`, then drained one key at a time.
 */
class ChangedKeys {
  /** Key → the highest revision a notice named for it (0: a notice without one, always re-read). */
  readonly #pending = new Map<string, number>();
  readonly #read: (key: string, revision: number) => Promise<void> | undefined;
  #started = false;
  #draining = false;
  #stopped = false;

  constructor(read: (key: string, revision: number) => Promise<void> | undefined) {
    this.#read = read;
  }

  add(key: string, revision: number): void {
    if (this.#stopped) return;
    const known = this.#pending.get(key);
    // A notice without a revision forces the re-read (0 wins over any revision).
    this.#pending.set(key, known === undefined ? revision : known === 0 || revision === 0 ? 0 : Math.max(known, revision));
    this.#drain();
  }

  start(): void {
    this.#started = true;
    this.#drain();
  }

  /** Drop what waits and read nothing more (a read in progress is not reported). */
  stop(): void {
    this.#stopped = true;
    this.#pending.clear();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  #drain(): void {
    if (!this.#started || this.#draining || this.#stopped) return;
    this.#draining = true;
    // From the next turn: the acknowledgement of the caller's own write, read in the same turn as its
    // notice, is then known (revisionOf), and the write is not read back.
    setImmediate(() => void (async () => {
      while (this.#pending.size > 0) {
        const [key, revision] = this.#pending.entries().next().value!;
        this.#pending.delete(key);
        await this.#read(key, revision);
      }
      this.#draining = false;
    })());
  }
}
