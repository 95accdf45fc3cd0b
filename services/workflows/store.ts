import { Kvm, type KV } from '@nats-io/kv';
import { agencyJetStream } from '../sdk/client/agency-js.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { KvReader, type Following, type KvValue } from '../sdk/state/kv-reader.ts';
import type { CaseRecord } from './model.ts';

/** A case and the KV revision it was read at (the compare-and-set token). */
export interface StoredCase {
  record: CaseRecord;
  revision: number;
}

const ALIAS = 'alias.';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isConflict(err: unknown): boolean {
  const text = String((err as { message?: unknown })?.message ?? err);
  return /wrong last sequence|key exists|10071|10164/i.test(text);
}

/**
 * The case registry's state in its JetStream KV bucket: one key per case (JSON), compare-and-set on
 * the revision for every change, plus `alias.<sender>.<message id>` keys for messages that belong to a
 * case whose key is not derived from their own id (a proposal sent to a second party): a message is
 * (sender, id), so another agency's message with the same id never takes over the alias. A watch keeps a
 * mirror of every case in memory for deadlines and queries; replicas share the bucket. Reads go by
 * direct get and live changes by a core subscription on the bucket's own subjects ({@link KvReader}):
 * the agency has no consumer rights on its bucket.
 */
export class CaseStore {
  readonly #kv: KV;
  readonly #reader: KvReader;
  readonly #mirror = new Map<string, StoredCase>();
  #watch?: Following;

  private constructor(kv: KV, reader: KvReader) {
    this.#kv = kv;
    this.#reader = reader;
  }

  /** Open the bucket the exchange provisioned for this agency (the agency may not create it). */
  static async open(nc: NatsConnection, bucket: string): Promise<CaseStore> {
    try {
      const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
      await kv.status();
      return new CaseStore(kv, await KvReader.open(nc, bucket));
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONFIG_INVALID', `cannot open the case bucket ${bucket} (is the agency's role given "state: { kv: [cases] }" and the exchange provisioned?)`);
    }
  }

  /** The case as stored now (not the mirror). */
  async get(key: string): Promise<StoredCase | undefined> {
    const v = await this.#reader.get(key);
    return v?.value && v.value.length > 0 ? { record: JSON.parse(decoder.decode(v.value)) as CaseRecord, revision: v.revision } : undefined;
  }

  /** Create the case; undefined when it exists already (someone else won the race). */
  async create(key: string, record: CaseRecord): Promise<number | undefined> {
    try {
      return await this.#kv.create(key, encoder.encode(JSON.stringify(record)));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** Replace the case if it is still at `revision`; undefined on a conflict. */
  async update(key: string, record: CaseRecord, revision: number): Promise<number | undefined> {
    try {
      return await this.#kv.update(key, encoder.encode(JSON.stringify(record)), revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** The case key `sender`'s message `messageId` belongs to, when it was recorded by {@link setAlias}. */
  async alias(sender: string, messageId: string): Promise<string | undefined> {
    const e = await this.#kv.get(`${ALIAS}${sender}.${messageId}`);
    return e && e.operation === 'PUT' && e.value.length > 0 ? decoder.decode(e.value) : undefined;
  }

  async setAlias(sender: string, messageId: string, key: string): Promise<void> {
    await this.#kv.put(`${ALIAS}${sender}.${messageId}`, encoder.encode(key));
  }

  /** Start mirroring every case; resolves once the current values are loaded. `onChange` sees each later change. */
  async watch(logger: Logger, onChange?: (c: StoredCase) => void): Promise<void> {
    let loaded = false;
    this.#watch = await this.#reader.follow({
      onValue: (v) => {
        const c = this.#apply(v);
        if (c && loaded) onChange?.(c);
      },
      onError: (err) => logger.warn({ err }, 'case watch could not re-read a changed case'),
    });
    loaded = true;
  }

  /** Fold one stored entry into the mirror; the case when it is one (not an alias, not a removal). */
  #apply(v: KvValue): StoredCase | undefined {
    if (v.key.startsWith(ALIAS)) return undefined;
    if (!v.value || v.value.length === 0) {
      this.#mirror.delete(v.key);
      return undefined;
    }
    const c = { record: JSON.parse(decoder.decode(v.value)) as CaseRecord, revision: v.revision };
    const known = this.#mirror.get(v.key);
    if (!known || known.revision < c.revision) this.#mirror.set(v.key, c);
    return c;
  }

  /** The mirrored case (possibly behind another replica's last write: compare-and-set catches that). */
  cached(key: string): StoredCase | undefined {
    return this.#mirror.get(key);
  }

  /** Record a revision this process wrote (the watch confirms it later). */
  remember(key: string, c: StoredCase): void {
    const known = this.#mirror.get(key);
    if (!known || known.revision < c.revision) this.#mirror.set(key, c);
  }

  /** Every case in the mirror. */
  cases(): StoredCase[] {
    return [...this.#mirror.values()];
  }

  stop(): void {
    this.#watch?.stop();
  }
}
