import { Kvm, type KV } from '@nats-io/kv';
import { agencyJetStream } from '../sdk/client/agency-js.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { KvReader, type Following, type KvValue } from '../sdk/state/kv-reader.ts';
import { ReadGate } from '../sdk/client/read-gate.ts';
import { RecordWriter } from '../sdk/client/record-writer.ts';
import { agencyJsApi } from '../sdk/subjects.ts';
import type { CaseRecord } from './model.ts';

/** A case and the KV revision it was read at (the compare-and-set token). */
export interface StoredCase {
  record: CaseRecord;
  revision: number;
}

const ALIAS = 'alias.';
/** What a scan of every case is called in a failure ("… the read of the case bucket (every case)"). */
const SCAN = 'the case bucket (every case)';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isConflict(err: unknown): boolean {
  const text = String((err as { message?: unknown })?.message ?? err);
  return /wrong last sequence|key exists|10071|10164/i.test(text);
}

/** Cases kept in memory by default besides those the deadline tick needs ({@link CaseStore}). */
export const CASE_CACHE = 10_000;

/**
 * True while the registry's tick may still have work on the case: a deadline that can still fall due
 * (one that expires the state, or whose reminder or escalation is still to come; the same test as
 * `dueDeadlines` without the time), or notices waiting in its outbox.
 */
export function needsTick(c: CaseRecord): boolean {
  return c.outbox.length > 0 || c.deadlines.some((d) => d.expireTo !== undefined || !d.reminded || !d.escalated);
}

/** Counters of a {@link CaseStore}'s memory. */
export interface CaseStoreStats {
  /** Cases dropped from memory (still in the bucket, read back by direct get when needed). */
  evicted: number;
  /** Whole-bucket reads: queries and retraction look-ups once some case was dropped from memory. */
  scans: number;
}

/** What the watch did with the changes it was told of. */
export interface CaseWatchStats {
  /** Changes read back from the bucket (another writer's, or one whose revision memory did not hold yet). */
  rereads: number;
  /** Changes memory held already at that revision (this process's own acknowledged writes): not read back. */
  skipped: number;
}

/**
 * The case registry's state in its JetStream KV bucket: one key per case (JSON), compare-and-set on
 * the revision for every change, plus `alias.<sender>.<message id>` keys for messages that belong to a
 * case whose key is not derived from their own id (a proposal sent to a second party): a message is
 * (sender, id), so another agency's message with the same id never takes over the alias. A watch
 * follows every change; memory keeps only what the registry needs hot (issue 13): every case the tick
 * may still act on ({@link needsTick}: pending deadlines, notices to publish), and the `cacheCases`
 * most recently used of the others. Any other case is read back by direct get when a message or query
 * names it, and by a scan of the bucket for queries and look-ups that need every case (only once a
 * case was dropped: until then memory holds them all). Replicas share the bucket. Reads go by direct
 * get and live changes by a core subscription on the bucket's own subjects ({@link KvReader}): the
 * agency has no consumer rights on its bucket.
 */
export class CaseStore {
  readonly #kv: KV;
  readonly #reader: KvReader;
  /** Cases the tick needs: deadlines that can still fall due, or an outbox. */
  readonly #hot = new Map<string, StoredCase>();
  /** The others, least recently used first, at most `#cap`. */
  readonly #recent = new Map<string, StoredCase>();
  readonly #cap: number;
  readonly stats: CaseStoreStats = { evicted: 0, scans: 0 };
  #watch?: Following;
  /** Compare-and-set writes as plain publishes acknowledged on one inbox subscription (no request, timer or error object per write); absent: through nats.js KV. */
  readonly #writer?: RecordWriter;
  /** With the writer: reads of a key follow the connection as its writes do (fail at a drop, wait for the reconnect). */
  readonly #gate?: ReadGate;
  readonly #subjectPrefix: string;

  private constructor(kv: KV, reader: KvReader, cap: number, writer: RecordWriter | undefined, bucket: string, gate: ReadGate | undefined) {
    this.#kv = kv;
    this.#reader = reader;
    this.#cap = cap;
    this.#writer = writer;
    this.#gate = gate;
    // Through the agency's JetStream API import, as the KV client and the handled record write.
    this.#subjectPrefix = agencyJsApi(`$KV.${bucket}.`);
  }

  /**
   * Open the bucket the exchange provisioned for this agency (the agency may not create it); `cacheCases`
   * (default {@link CASE_CACHE}) bounds memory. With `inboxPrefix` (the agency's inbox, `inboxPrefix(id)`)
   * case updates go as plain publishes acknowledged on one subscription of it (issue 16 item 3: two per
   * transition, each a nats.js request before).
   */
  static async open(nc: NatsConnection, bucket: string, o: { cacheCases?: number; inboxPrefix?: string } = {}): Promise<CaseStore> {
    const cap = o.cacheCases ?? CASE_CACHE;
    if (!Number.isInteger(cap) || cap < 0) throw new LiaisonError('ERR_USAGE', `cacheCases must be a whole number of cases, 0 or more, not ${String(cap)}`);
    try {
      const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
      await kv.status();
      // Following the connection (a write pending at a disconnect fails at once, one asked for meanwhile waits for the
      // reconnect) is safe: every case write is a compare-and-set, and a failed transition is redelivered and re-read,
      // its own stored write found by the message id it recorded (appliedFrom), never applied twice.
      const writer = o.inboxPrefix ? new RecordWriter(nc, o.inboxPrefix, { code: 'ERR_PUBLISH', what: 'case bucket', failOnDisconnect: true }) : undefined;
      // A read that lost its answer at a drop is a read failure (ERR_STATE_READ), not a publish's.
      const gate = o.inboxPrefix ? new ReadGate(nc, 'ERR_STATE_READ') : undefined;
      return new CaseStore(kv, await KvReader.open(nc, bucket), cap, writer, bucket, gate);
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONFIG_INVALID', `cannot open the case bucket ${bucket} (is the agency's role given "state: { kv: [cases] }" and the exchange provisioned?)`);
    }
  }

  /** The case as stored now (not memory). */
  async get(key: string): Promise<StoredCase | undefined> {
    const v = await this.#read(key, () => this.#reader.get(key));
    return v?.value && v.value.length > 0 ? { record: JSON.parse(decoder.decode(v.value)) as CaseRecord, revision: v.revision } : undefined;
  }

  /** Create the case; undefined when it exists already (someone else won the race). */
  async create(key: string, record: CaseRecord): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(record));
    if (this.#writer) {
      // No entry yet: the usual case, one plain publish. Any entry (a case, or the marker of a removed one)
      // makes it conflict; then as nats.js's create decides: over a removal marker it writes at the marker's revision
      // (by the writer too: a compare-and-set), a live case is a conflict.
      const written = await this.#writer.put(this.#subjectPrefix + key, data, 0);
      if (written !== 'conflict') return written;
      const e = await this.#read(key, () => this.#kv.get(key));
      if (!e || (e.operation !== 'DEL' && e.operation !== 'PURGE')) return undefined;
      const over = await this.#writer.put(this.#subjectPrefix + key, data, e.revision);
      return over === 'conflict' ? undefined : over;
    }
    try {
      return await this.#kv.create(key, data);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** Replace the case if it is still at `revision`; undefined on a conflict. */
  async update(key: string, record: CaseRecord, revision: number): Promise<number | undefined> {
    if (this.#writer) {
      const written = await this.#writer.put(this.#subjectPrefix + key, encoder.encode(JSON.stringify(record)), revision);
      return written === 'conflict' ? undefined : written;
    }
    try {
      return await this.#kv.update(key, encoder.encode(JSON.stringify(record)), revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** The case key `sender`'s message `messageId` belongs to, when it was recorded by {@link setAlias}. */
  async alias(sender: string, messageId: string): Promise<string | undefined> {
    const key = `${ALIAS}${sender}.${messageId}`;
    const e = await this.#read(key, () => this.#kv.get(key));
    return e && e.operation === 'PUT' && e.value.length > 0 ? decoder.decode(e.value) : undefined;
  }

  /**
   * Record that `sender`'s message `messageId` belongs to case `key`. By the writer when there is one (it follows the
   * connection): safe, as the alias is a plain put of a value fixed by the message, so a write whose fate a cut left
   * unknown fails its message, which is redelivered and writes the same alias again.
   */
  async setAlias(sender: string, messageId: string, key: string): Promise<void> {
    if (this.#writer) {
      await this.#writer.put(`${this.#subjectPrefix}${ALIAS}${sender}.${messageId}`, encoder.encode(key), undefined);
      return;
    }
    await this.#kv.put(`${ALIAS}${sender}.${messageId}`, encoder.encode(key));
  }

  /** Start following every case; resolves once the current values are loaded. `onChange` sees each later change. */
  async watch(logger: Logger, onChange?: (c: StoredCase) => void): Promise<void> {
    let loaded = false;
    const gate = this.#gate;
    this.#watch = await this.#reader.follow({
      onValue: (v) => {
        const c = this.#apply(v);
        if (c && loaded) onChange?.(c);
      },
      onError: (err) => logger.warn({ err }, 'case watch could not re-read a changed case'),
      // This process's own writes are in memory at their revision already (remember): not read back.
      revisionOf: (key) => this.#known(key)?.revision,
      // Another writer's change is read back whatever the connection does: a re-read cut by a drop is read again at the
      // reconnect (dropped, memory would stay behind until the case's next change).
      ...(gate ? { reread: <T>(key: string, read: () => Promise<T>) => gate.readAcross(key, read) } : {}),
    });
    loaded = true;
  }

  /** Fold one stored entry into memory; the case when it is one (not an alias, not a removal). */
  #apply(v: KvValue): StoredCase | undefined {
    if (v.key.startsWith(ALIAS)) return undefined;
    if (!v.value || v.value.length === 0) {
      this.#hot.delete(v.key);
      this.#recent.delete(v.key);
      return undefined;
    }
    const c = { record: JSON.parse(decoder.decode(v.value)) as CaseRecord, revision: v.revision };
    this.remember(v.key, c);
    return c;
  }

  #known(key: string): StoredCase | undefined {
    return this.#hot.get(key) ?? this.#recent.get(key);
  }

  /** Keep `c` as the case `key` in memory: with the hot ones, or as the most recently used of the others (dropping the least recent past the cap). */
  #keep(key: string, c: StoredCase): void {
    this.#recent.delete(key);
    if (needsTick(c.record)) {
      this.#hot.set(key, c);
      return;
    }
    this.#hot.delete(key);
    this.#recent.set(key, c);
    while (this.#recent.size > this.#cap) {
      this.#recent.delete(this.#recent.keys().next().value!);
      this.stats.evicted++;
    }
  }

  /** The case in memory, if it is (possibly behind another replica's last write: compare-and-set catches that); else read it with {@link get}. */
  cached(key: string): StoredCase | undefined {
    const hot = this.#hot.get(key);
    if (hot) return hot;
    const recent = this.#recent.get(key);
    if (recent) this.#keep(key, recent); // Used: the most recent now.
    return recent;
  }

  /** Record a revision this process wrote or read (the watch confirms it later); an older one than memory holds is ignored. */
  remember(key: string, c: StoredCase): void {
    const known = this.#known(key);
    if (!known || known.revision < c.revision) this.#keep(key, c);
  }

  /** The cases in memory: every one the tick may act on ({@link needsTick}) and the most recently used others. */
  cases(): StoredCase[] {
    return [...this.#hot.values(), ...this.#recent.values()];
  }

  /** The cases the deadline tick may act on (all in memory). */
  tickCases(): StoredCase[] {
    return [...this.#hot.values()];
  }

  /** What the watch re-read and what it skipped so far. */
  get watchStats(): CaseWatchStats {
    return { rereads: this.#watch?.rereads ?? 0, skipped: this.#watch?.skipped ?? 0 };
  }

  /** Cases in memory now (at most the cap plus those the tick needs). */
  get inMemory(): number {
    return this.#hot.size + this.#recent.size;
  }

  /** True while memory holds every case (none was dropped since the store opened). */
  get complete(): boolean {
    return this.stats.evicted === 0;
  }

  /**
   * Every case: from memory while it holds them all, else by one scan of the bucket (the newer of the
   * scanned and the remembered revision of each). Its cost grows with the bucket: for queries and
   * rare look-ups, never per message.
   */
  async allCases(): Promise<StoredCase[]> {
    if (this.complete) return this.cases();
    this.stats.scans++;
    const out = new Map<string, StoredCase>();
    // Through the gate, whole: a drop part-way fails the listing at once (never a partial one).
    const stored = this.#gate ? await this.#gate.read(SCAN, () => this.#reader.values()) : await this.#reader.values();
    for (const [key, v] of stored) {
      if (key.startsWith(ALIAS) || !v.value || v.value.length === 0) continue;
      out.set(key, { record: JSON.parse(decoder.decode(v.value)) as CaseRecord, revision: v.revision });
    }
    for (const [key, c] of [...this.#hot, ...this.#recent]) {
      const scanned = out.get(key);
      if (!scanned || scanned.revision < c.revision) out.set(key, c);
    }
    return [...out.values()];
  }

  /** A read of `key`, through the gate when there is one. */
  async #read<T>(key: string, read: () => Promise<T>): Promise<T> {
    return this.#gate ? await this.#gate.read(key, read) : await read();
  }

  stop(): void {
    this.#watch?.stop();
    this.#writer?.close();
    this.#gate?.close();
  }
}
