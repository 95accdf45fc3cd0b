import { agencyJetStream } from './agency-js.ts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../clock.ts';
import { asLiaisonError, LiaisonError } from '../errors.ts';
import { HANDLED_BUCKET } from '../policy/compile.ts';
import { agencyJsApi, bucketName, inboxPrefix } from '../subjects.ts';
import { RecordWriter } from './record-writer.ts';

/**
 * The durable record of the messages an agency handed to its handler: one entry per (sender, id) in
 * the agency's own `<agency>_handled` KV bucket, provisioned by the exchange (see `agencyBuckets`).
 *
 * Order of one message: **claim** (a create that fails when any entry exists) before the handler,
 * **done** after it, the JetStream ack after that. A SIGKILL anywhere leaves one of: no entry (not
 * handled: handled on redelivery), `claim` (the handler may or may not have run: IN DOUBT, never
 * handled again — quarantined), `done` (acked on redelivery without handling). A handler that throws
 * `free`s its claim, so its redelivery is handled.
 */
export type RecordState = 'claim' | 'done' | 'free' | 'quarantined';

/** What the record decides for one copy about to reach the handler. */
export type Claim =
  | { outcome: 'claimed'; /** Mark done (call after the handler succeeded, ack after it resolves). */ finish(): Promise<void>; /** The handler failed: let a redelivery be handled. */ release(): Promise<void> }
  | { outcome: 'done' }
  | { outcome: 'quarantined' }
  | {
      outcome: 'in-doubt';
      claimedAt: number;
      /** Record that it went to quarantine (so a further redelivery is only acked). */
      quarantined(): Promise<void>;
      /** Claim it again, for a handler that declared itself idempotent (`redeliverInDoubt`). */
      reclaim(): Promise<Claim>;
    }
  | { outcome: 'unavailable'; error: LiaisonError };

/** Where a copy was delivered from (a replay requested by the agency re-handles what it had handled). */
export interface DeliveredFrom {
  consumer: string;
  streamSeq: number;
}

const encoder = new TextEncoder();
/** Attempts to settle one claim when other writers race on the same key. */
const CLAIM_ATTEMPTS = 4;

/** One token of a KV key: kept when it is plain (`[-A-Za-z0-9_]`), else `=` + base64url (never ambiguous with a plain token). */
function keyToken(s: string): string {
  return /^[-\w]+$/.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

/** The record of one receiving agency (one per client; shared by its consumer loops). */
export class HandledRecord {
  /** Reads (only when a claim finds an entry). */
  readonly #kv: KV;
  /** Writes: compare-and-set publishes, PubAcks on one subscription. */
  readonly #writer: RecordWriter;
  readonly #bucket: string;
  readonly #clock: Clock;
  readonly #replica: number;
  /** Keys whose copy is between claim and done in this process: a second copy waits for the first. */
  readonly #inFlight = new Map<string, Promise<void>>();
  #replay: { positions: Record<string, number>; at: number } | undefined;

  private constructor(kv: KV, writer: RecordWriter, bucket: string, clock: Clock, replica: number) {
    this.#kv = kv;
    this.#writer = writer;
    this.#bucket = bucket;
    this.#clock = clock;
    this.#replica = replica;
  }

  /** Bind the agency's handled bucket (no API round trip: entries are written by publish and read by direct get). */
  static async open(nc: NatsConnection, agency: string, o: { clock: Clock; replica: number }): Promise<HandledRecord> {
    const bucket = bucketName(agency, HANDLED_BUCKET);
    const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
    return new HandledRecord(kv, new RecordWriter(nc, inboxPrefix(agency)), bucket, o.clock, o.replica);
  }

  /** `<sender>.<id>` (replica k > 1 of an agency keeps its own: `<sender>.<id>.r<k>`). */
  keyOf(sender: string, id: string): string {
    const key = `${keyToken(sender)}.${keyToken(id)}`;
    return this.#replica > 1 ? `${key}.r${this.#replica}` : key;
  }

  /**
   * The agency asked the exchange to redeliver its consumers from these stream sequences (a service
   * restored from an older snapshot): copies at or after them whose entry predates the request are
   * handled again.
   */
  allowReplay(positions: Record<string, number>): void {
    this.#replay = { positions: { ...this.#replay?.positions, ...positions }, at: this.#clock.now() };
  }

  /** Settles when no claim of this process is between claim and done (a graceful close waits for it). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()]);
  }

  /** Decide whether this copy of (sender, id) may reach the handler; never rejects. */
  async claim(sender: string, id: string, from?: DeliveredFrom): Promise<Claim> {
    const key = this.keyOf(sender, id);
    for (let prior = this.#inFlight.get(key); prior; prior = this.#inFlight.get(key)) await prior;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    this.#inFlight.set(key, gate);
    const settle = () => {
      if (this.#inFlight.get(key) === gate) this.#inFlight.delete(key);
      open();
    };
    let c: Claim;
    try {
      c = await this.#decide(key, from);
    } catch (err) {
      c = { outcome: 'unavailable', error: asLiaisonError(err, 'ERR_HANDLED_RECORD', `handled record ${key}`) };
    }
    if (c.outcome !== 'claimed') {
      settle();
      return c;
    }
    const { finish, release } = c;
    return { outcome: 'claimed', finish: () => finish().finally(settle), release: () => release().finally(settle) };
  }

  async #decide(key: string, from: DeliveredFrom | undefined): Promise<Claim> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const created = await this.#put(key, 'claim', 0);
      if (created !== 'conflict') return this.#claimed(key, created);
      const e = await this.#kv.get(key);
      if (!e) continue; // expired between the two calls: claim again
      const [state, atText] = e.string().split(' ') as [RecordState, string];
      const at = Number(atText);
      if (e.operation !== 'PUT' || state === 'free' || this.#replayed(from, at)) {
        const reclaimed = await this.#put(key, 'claim', e.revision);
        if (reclaimed !== 'conflict') return this.#claimed(key, reclaimed);
        continue; // another writer claimed it meanwhile: read again
      }
      if (state === 'done') return { outcome: 'done' };
      if (state === 'quarantined') return { outcome: 'quarantined' };
      const revision = e.revision;
      return { outcome: 'in-doubt', claimedAt: at, quarantined: () => this.#write(key, 'quarantined', revision), reclaim: () => this.#reclaim(key, revision) };
    }
    throw new Error(`no stable entry after ${CLAIM_ATTEMPTS} attempts`);
  }

  async #reclaim(key: string, revision: number): Promise<Claim> {
    const r = await this.#put(key, 'claim', revision);
    if (r === 'conflict') throw new LiaisonError('ERR_HANDLED_RECORD', `cannot claim ${key} again: another writer changed it`, { key });
    return this.#claimed(key, r);
  }

  #claimed(key: string, revision: number): Claim {
    return { outcome: 'claimed', finish: () => this.#write(key, 'done', revision), release: () => this.#write(key, 'free', revision) };
  }

  /** Overwrite the entry this process claimed (only if nobody wrote it since). */
  async #write(key: string, state: RecordState, revision: number): Promise<void> {
    const r = await this.#put(key, state, revision);
    if (r === 'conflict') throw new LiaisonError('ERR_HANDLED_RECORD', `cannot mark ${key} ${state}: another writer changed it`, { key });
  }

  /** Write `<state> <now>` at `key` if its last revision is `expected` (0: absent). */
  #put(key: string, state: RecordState, expected: number): Promise<number | 'conflict'> {
    // Through the agency's import of its own bucket (account-routes.ts), as nats.js's KV would write it.
    return this.#writer.put(agencyJsApi(`$KV.${this.#bucket}.${key}`), encoder.encode(`${state} ${this.#clock.now()}`), expected);
  }

  #replayed(from: DeliveredFrom | undefined, at: number): boolean {
    const r = this.#replay;
    if (!r || !from) return false;
    const first = r.positions[from.consumer];
    return first !== undefined && from.streamSeq >= first && at < r.at;
  }
}
