/**
 * The leaf's outbox: a stream in the leaf's own JetStream domain that stores every copy the agency sends, on its
 * original subject, with its original envelope and NATS headers (Nats-Msg-Id included), whether or not the link
 * to the exchange is up. The SDK's send is acknowledged by this stream (its PubAck names LEAF_OUTBOX). The
 * forwarder reads it in stream order from a cursor kept in the leaf's KV bucket; the outbox keeps what was sent
 * (limits retention), so the agency can read its own sends while offline.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { DUPLICATE_WINDOW_MS } from '../sdk/policy/index.ts';
import { SUBJECT_ROOT } from '../sdk/subjects.ts';
import { TIERS } from '../sdk/tier.ts';

/** The outbox stream of a leaf. */
export const OUTBOX_STREAM = 'LEAF_OUTBOX';
/** The leaf's KV bucket holding the forwarder's cursor (the next outbox sequence to forward). */
export const FORWARDER_BUCKET = 'LEAF_FORWARDER';
const CURSOR_KEY = 'next-seq';

/** How long the outbox keeps a copy (forwarded or not): 30 days. */
export const OUTBOX_MAX_AGE_MS = 30 * 24 * 3600_000;

const nanos = (ms: number): number => ms * 1_000_000;

/** The subjects the outbox captures: the agency's own sends of every tier (sender token = the agency). */
export function outboxSubjects(agencyId: string): string[] {
  return TIERS.map((t) => `${SUBJECT_ROOT}.${t}.*.*.${agencyId}.*`);
}

/**
 * Create (or update) the outbox stream and the forwarder's bucket in the leaf's domain. New sends are refused
 * rather than old ones dropped when the outbox is full (`maxBytes`): nothing sent is lost silently.
 */
export async function ensureOutbox(jsm: JetStreamManager, agencyId: string, o: { maxBytes?: number } = {}): Promise<void> {
  const config = {
    name: OUTBOX_STREAM,
    subjects: outboxSubjects(agencyId),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    max_age: nanos(OUTBOX_MAX_AGE_MS),
    max_bytes: o.maxBytes ?? 512 * 1024 * 1024,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  };
  try {
    await jsm.streams.info(OUTBOX_STREAM);
    await jsm.streams.update(OUTBOX_STREAM, config);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw asLiaisonError(err, 'ERR_EDGE', 'cannot read the leaf outbox');
    await jsm.streams.add(config).catch((e: unknown) => {
      throw asLiaisonError(e, 'ERR_EDGE', 'cannot create the leaf outbox');
    });
  }
}

/** The forwarder's durable cursor: the next outbox sequence to forward (1 at first). */
export class ForwarderCursor {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Open (create) the cursor bucket in the leaf's domain. */
  static async open(nc: NatsConnection): Promise<ForwarderCursor> {
    try {
      return new ForwarderCursor(await new Kvm(nc).create(FORWARDER_BUCKET, { history: 1, storage: StorageType.File }));
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EDGE', 'cannot open the leaf forwarder cursor');
    }
  }

  /** The next outbox sequence to forward. */
  async get(): Promise<number> {
    const e = await this.#kv.get(CURSOR_KEY);
    const n = e && e.operation === 'PUT' ? Number(e.string()) : 1;
    return Number.isSafeInteger(n) && n >= 1 ? n : 1;
  }

  /** Record that everything before `next` was forwarded (or set aside). */
  async set(next: number): Promise<void> {
    await this.#kv.put(CURSOR_KEY, String(next));
  }
}
