import { createHash } from 'node:crypto';
import { agencyJetStream } from '../sdk/client/agency-js.ts';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { ReadGate } from '../sdk/client/read-gate.ts';
import { RecordWriter } from '../sdk/client/record-writer.ts';
import { agencyJsApi } from '../sdk/subjects.ts';
import { StoredReader } from '../sdk/state/stored.ts';
import { BucketScan } from './bucket-scan.ts';
import { recordJson } from './record-json.ts';
import type { HandlingCode, Tier, TlpLabel } from '../sdk/tier.ts';
import { EntityCache } from './entity-cache.ts';
import type { EntityKindName } from './entities.ts';
import type { MessageFacts } from './facts.ts';

/** One message in which a correlated value occurs. */
export interface Occurrence {
  messageId: string;
  /** Short type name. */
  type: string;
  /** The sending agency. */
  agency: string;
  /** The message's signed recipient: an agency id or `all`. */
  recipient: string;
  caseRef: string;
  /** ISO time the message was created. */
  sentAt: string;
  /** Dotted field path of the value in the message. */
  field: string;
  /** Effective sensitivity of that field. */
  fieldTier: Tier;
  handling: HandlingCode;
  tlp: TlpLabel;
  /** Places and routes the message names (keys and their field tiers), to weigh a link. */
  context: { key: string; tier: Tier }[];
}

/** True when `o` is an occurrence of `sender`'s message `messageId`: a message is (sender, id), never id alone. */
export function isOccurrenceOf(o: Pick<Occurrence, 'agency' | 'messageId'>, sender: string, messageId: string): boolean {
  return o.messageId === messageId && o.agency === sender;
}

/** A CorrelationAlert the centre sent about a value: what it must retract or correct if a record it stood on is retracted. */
export interface SentAlert {
  /** Header id of the alert. */
  id: string;
  /** Its recipient. */
  to: string;
  /** The occurrence whose arrival sent it (its message id): the alert stood on that one and every earlier occurrence. */
  trigger: string;
  /** The sender of that occurrence's message (absent on alerts recorded before it was kept). */
  triggerSender?: string;
}

/** Everything the centre knows about one correlated value. */
export interface EntityRecord {
  kind: EntityKindName;
  /** Key namespace (`doc`, `imo`, `phone`…). */
  namespace: string;
  /**
   * The normal form of the value — kept only when some occurrence carries it in a field at the
   * operational tier or below; personal values are known by their key hash alone.
   */
  value?: string;
  /** The centre's reference of the link, shared by every alert about it. */
  reference: string;
  firstSeen: number;
  /** When two agencies (or two cases) first held the value. */
  linkedAt?: number;
  occurrences: Occurrence[];
  /** The alerts sent about the value that still stand (the last {@link MAX_ALERTS}). */
  alerts?: SentAlert[];
}

/** A stored entity with its KV revision. */
export interface StoredEntity {
  hash: string;
  record: EntityRecord;
  revision: number;
}

const ENTITY = 'ent.';
const FACTS = 'facts.';
/** Occurrences kept per value (the oldest stay: they are what later messages link to). */
export const MAX_OCCURRENCES = 500;
/** Standing alerts remembered per value (the newest stay: an older one is mostly superseded by them). */
export const MAX_ALERTS = 500;
export const MAX_CAS_ATTEMPTS = 25;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function isConflict(err: unknown): boolean {
  const text = String((err as { message?: unknown })?.message ?? err);
  return /wrong last sequence|key exists|10071|10164/i.test(text);
}

/** The bucket key part of a correlation key: SHA-256, so values never appear in key names. */
export function entityHash(key: string): string {
  return createHash('sha256').update(`liaison-centre\u0000${key}`).digest('hex').slice(0, 40);
}

/**
 * The centre's state in its JetStream KV bucket (`<agency>_correlations`, provisioned by the exchange
 * from the role's `state: { kv: [correlations] }`): one key per correlated value (`ent.<hash>`,
 * changed by compare-and-set) and one per processed message (`facts.<sender>.<id>`, its strategic facts,
 * written last: the mark that the message was fully handled). Several centre instances may share it:
 * every record write is a compare-and-set, the records this process wrote are remembered (bounded,
 * {@link EntityCache}) so a write need not read first, and a conflict drops the remembered copy.
 * Reads go by direct get (one key, or a scan: {@link BucketScan}): the agency has no consumer rights on its bucket.
 * Opened with the agency's inbox, its writes, reads and scans follow the connection (issue 16): one awaiting its
 * answer at a disconnect fails at once, typed; one asked for while down waits for the reconnect.
 */
export class CorrelationStore {
  readonly #kv: KV;
  /** Whole-bucket reads, through the gate when there is one. */
  readonly #scan: BucketScan;
  readonly #cache: EntityCache;
  /** Writes as plain publishes acknowledged on one inbox subscription (no request, timer or error object per write); absent: through nats.js KV. */
  readonly #writer?: RecordWriter;
  /** With the writer: reads of a key follow the connection as its writes do (fail at a drop, wait for the reconnect). */
  readonly #gate?: ReadGate;
  readonly #subjectPrefix: string;

  private constructor(kv: KV, stored: StoredReader, cache: EntityCache, writer: RecordWriter | undefined, bucket: string, gate: ReadGate | undefined) {
    this.#kv = kv;
    this.#scan = new BucketScan(stored, bucket, gate);
    this.#cache = cache;
    this.#writer = writer;
    this.#gate = gate;
    // Through the agency's JetStream API import, as the KV client writes.
    this.#subjectPrefix = agencyJsApi(`$KV.${bucket}.`);
  }

  /**
   * Open the bucket the exchange provisioned (the agency may not create it); `cacheBytes` bounds the entity
   * cache. With `inboxPrefix` (the agency's inbox, `inboxPrefix(id)`) record and facts writes go as plain
   * publishes acknowledged on one subscription of it (issue 16 item 3: each was a nats.js request).
   */
  static async open(nc: NatsConnection, bucket: string, o: { cacheBytes?: number; inboxPrefix?: string } = {}): Promise<CorrelationStore> {
    try {
      const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
      await kv.status();
      // Following the connection (a write pending at a disconnect fails at once, one asked for meanwhile waits for the
      // reconnect) is safe: a record write is a compare-and-set whose failure drops the cached copy, the failed message is
      // redelivered and its occurrence, found by (sender, id) on the record read afresh, is never added twice; its facts
      // (the last write) are the same facts written again.
      const writer = o.inboxPrefix ? new RecordWriter(nc, o.inboxPrefix, { code: 'ERR_PUBLISH', what: 'correlation bucket', failOnDisconnect: true }) : undefined;
      const gate = o.inboxPrefix ? new ReadGate(nc, 'ERR_STATE_READ') : undefined;
      return new CorrelationStore(kv, await StoredReader.open(nc, `KV_${bucket}`), new EntityCache(o.cacheBytes), writer, bucket, gate);
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONFIG_INVALID', `cannot open the correlation bucket ${bucket} (is the agency's role given "state: { kv: [correlations] }" and the exchange provisioned?)`);
    }
  }

  /** The entry at `key` (removal markers too), through the gate when there is one. */
  async #entry(key: string): Promise<KvEntry | null> {
    return this.#gate ? await this.#gate.read(key, () => this.#kv.get(key)) : await this.#kv.get(key);
  }

  async #get<T>(key: string): Promise<{ value: T; revision: number } | undefined> {
    const e = await this.#entry(key);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
    return { value: JSON.parse(decoder.decode(e.value)) as T, revision: e.revision };
  }

  /** One value's record by its hash, read from the bucket (and remembered for the next write). */
  async entity(hash: string): Promise<StoredEntity | undefined> {
    const e = await this.#entry(ENTITY + hash);
    if (!e || e.operation !== 'PUT' || e.value.length === 0) {
      this.#cache.delete(hash);
      return undefined;
    }
    const record = JSON.parse(decoder.decode(e.value)) as EntityRecord;
    this.#cache.set(hash, { record, revision: e.revision, bytes: e.value.length });
    return { hash, record, revision: e.revision };
  }

  /**
   * The record this process last wrote or read for `hash` ({@link EntityCache}), else read from the
   * bucket. Possibly stale when another writer changed it since: only for a compare-and-set at its
   * revision ({@link writeEntity}), whose conflict evicts it.
   */
  async cachedEntity(hash: string): Promise<StoredEntity | undefined> {
    const c = this.#cache.get(hash);
    return c ? { hash, record: c.record, revision: c.revision } : this.entity(hash);
  }

  /**
   * Write a value's record if it is still at `revision` (0: create it; it must not exist). The new
   * revision, or undefined when another writer changed it first (the cached copy is then dropped:
   * read it again). The written record is remembered; callers must not change it afterwards.
   */
  async writeEntity(hash: string, revision: number, record: EntityRecord): Promise<number | undefined> {
    const data = encoder.encode(recordJson(record));
    try {
      const next = await this.#compareAndSet(ENTITY + hash, data, revision);
      if (next === undefined) this.#cache.delete(hash);
      else this.#cache.set(hash, { record, revision: next, bytes: data.length });
      return next;
    } catch (err) {
      this.#cache.delete(hash);
      throw err;
    }
  }

  /**
   * Write `key` if it is still at `revision` (0: it must not exist): the new revision, undefined on a
   * conflict. By the writer when there is one; a create that found an entry writes over the marker of a removed
   * record (as nats.js's create) and refuses a live one.
   */
  async #compareAndSet(key: string, data: Uint8Array, revision: number): Promise<number | undefined> {
    if (this.#writer) {
      const r = await this.#writer.put(this.#subjectPrefix + key, data, revision);
      if (r !== 'conflict') return r;
      if (revision) return undefined;
      // A create that found an entry decides as nats.js's create does: over a removal marker it writes at the marker's
      // revision (by the writer too: a compare-and-set), a live record is a conflict.
      const e = await this.#entry(key);
      if (!e || (e.operation !== 'DEL' && e.operation !== 'PURGE')) return undefined;
      const over = await this.#writer.put(this.#subjectPrefix + key, data, e.revision);
      return over === 'conflict' ? undefined : over;
    }
    try {
      return revision ? await this.#kv.update(key, data, revision) : await this.#kv.create(key, data);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /**
   * Replace a value's record if it is still at `revision` (compare-and-set); `undefined` deletes it
   * (no occurrence left). False when another writer changed it first: read it again.
   */
  async replaceEntity(hash: string, revision: number, record: EntityRecord | undefined): Promise<boolean> {
    if (record) return (await this.writeEntity(hash, revision, record)) !== undefined;
    this.#cache.delete(hash);
    // By the writer when there is one: still a compare-and-set on the revision, its removal marker the one nats.js
    // writes (read as no record); a delete whose fate a cut left unknown fails its message, whose redelivery reads the
    // record again (gone: the delete is not done twice, a retry at the old revision conflicts).
    if (this.#writer) return (await this.#writer.remove(this.#subjectPrefix + ENTITY + hash, revision)) !== 'conflict';
    try {
      await this.#kv.delete(ENTITY + hash, { previousSeq: revision });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** The strategic facts of `sender`'s message `messageId`, if it was fully handled before. */
  async facts(sender: string, messageId: string): Promise<MessageFacts | undefined> {
    return (await this.#get<MessageFacts>(`${FACTS}${sender}.${messageId}`))?.value;
  }

  /**
   * The facts of every sender's message with id `messageId` (ids come from the sender: several may share one). A scan
   * of the bucket for `facts.*.<id>`, filtered by the server; an id that cannot be one key token names no facts.
   */
  async factsOf(messageId: string): Promise<MessageFacts[]> {
    if (!/^[^.*>\s]+$/.test(messageId)) return [];
    return (await this.#all<MessageFacts>(`${FACTS}*.${messageId}`)).map((e) => e.value);
  }

  /** Record a message's facts (the last step of handling it), under its sender and id. */
  async putFacts(f: MessageFacts): Promise<void> {
    const data = encoder.encode(JSON.stringify(f));
    if (this.#writer) {
      await this.#writer.put(`${this.#subjectPrefix}${FACTS}${f.agency}.${f.messageId}`, data, undefined);
      return;
    }
    await this.#kv.put(`${FACTS}${f.agency}.${f.messageId}`, data);
  }

  /** Every current value whose key matches `keyFilter` (a subject filter: `facts.>`), read by one direct-get scan of the bucket. */
  async #all<T>(keyFilter: string): Promise<{ key: string; value: T; revision: number }[]> {
    return (await this.#scan.values(keyFilter)).map((v) => ({ key: v.key, value: JSON.parse(decoder.decode(v.value)) as T, revision: v.revision }));
  }

  /** Every message's facts (reports). */
  async allFacts(): Promise<MessageFacts[]> {
    return (await this.#all<MessageFacts>(`${FACTS}>`)).map((e) => e.value);
  }

  /** Every correlated value (reports, tests). */
  async allEntities(): Promise<StoredEntity[]> {
    return (await this.#all<EntityRecord>(`${ENTITY}>`)).map((e) => ({ hash: e.key.slice(ENTITY.length), record: e.value, revision: e.revision }));
  }
}
