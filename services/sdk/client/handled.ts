import { agencyJetStream } from './agency-js.ts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../clock.ts';
import { asLiaisonError, LiaisonError } from '../errors.ts';
import { HANDLED_BUCKET } from '../policy/compile.ts';
import { agencyJsApi, bucketName, inboxPrefix } from '../subjects.ts';
import { DoneFloor } from './done-floor.ts';
import { claimText, covers, floorKey, parseEntry, parseFloor, stateText, type EntryState } from './record-entry.ts';
import { ReadGate } from './read-gate.ts';
import { RecordWriter } from './record-writer.ts';

/**
 * The durable record of the messages an agency handed to its handler: one entry per (sender, id) in
 * the agency's own `<agency>_handled` KV bucket, provisioned by the exchange (see `agencyBuckets`).
 *
 * Order of one message: **claim** (a create that fails when any entry exists: `claim <at> <P> <n>`,
 * claim number n of this process P) before the handler, **done** after it — not a write per message
 * but this process's done floor (done-floor.ts), written once per batch — and the JetStream ack only
 * once the floor covering n is durable. A SIGKILL anywhere leaves one of: no entry (not handled:
 * handled on redelivery), a claim its process's floor does not cover (the handler may or may not
 * have run: IN DOUBT, never handled again — quarantined), a covered claim (acked on redelivery without
 * handling); the crash points are listed on {@link DoneFloor}. A handler that throws `free`s its claim,
 * so its redelivery is handled. A claim whose write failed with its outcome unknown (its PubAck lost with the
 * connection) is in doubt to every other process, but the process that wrote it knows no handler ran for it: finding
 * it in the entry, that process claims the copy again on the entry's revision and handles it. Entries of the per-message `done` era (`done <at>`, `claim <at>`) read
 * as done and in doubt.
 */
export type RecordState = EntryState;

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
/** Abandoned claim numbers (holes kept for good) after which new claims start a fresh floor (new P): the floor entry stays small. */
export const MAX_ABANDONED = 256;
/** Claims whose write failed that a process remembers as its own and never started (handled.ts `#unstarted`). */
export const MAX_UNSTARTED = 4_096;

/** One token of a KV key: kept when it is plain (`[-A-Za-z0-9_]`), else `=` + base64url (never ambiguous with a plain token). */
function keyToken(s: string): string {
  return /^[-\w]+$/.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

/**
 * The key of (sender, id) in the handled record of replica `replica` of an agency: `<sender>.<id>` (replica k > 1 keeps
 * its own: `<sender>.<id>.r<k>`). A pure function: naming an entry needs no open record (the quarantine replay only
 * names the entries it re-opens).
 */
export function handledKey(sender: string, id: string, replica: number): string {
  const key = `${keyToken(sender)}.${keyToken(id)}`;
  return replica > 1 ? `${key}.r${replica}` : key;
}

/**
 * The record of one receiving agency (one per client; shared by its consumer loops). While open it follows its
 * connection (its read gate and its writer each hold a status listener, the writer a subscription): {@link close} it
 * when done with it, or it holds them until the connection closes.
 */
export class HandledRecord {
  /** Reads (only when a claim finds an entry), through {@link #gate}. */
  readonly #kv: KV;
  /**
   * Reads follow the connection as the writes do: one awaiting its answer at a drop fails at once (the claim is
   * 'unavailable' and asked again at the copy's place; nothing was written or handled on the strength of it), one asked
   * for while the connection is down starts at the reconnect.
   */
  readonly #gate: ReadGate;
  /** Writes: compare-and-set publishes, PubAcks on one subscription. */
  readonly #writer: RecordWriter;
  readonly #bucket: string;
  readonly #clock: Clock;
  readonly #replica: number;
  /** The done floor new claims are numbered in (replaced once it has too many abandoned holes). */
  #floor: DoneFloor;
  /** Keys whose copy is between claim and done in this process: a second copy waits for the first. */
  readonly #inFlight = new Map<string, Promise<void>>();
  /**
   * `<P> <n>` of this process's claims whose write failed (its outcome unknown: the PubAck lost with the connection,
   * say): the entry may hold it, but no handler ever started for it. A claim that finds such an entry takes it again.
   * Bounded ({@link MAX_UNSTARTED}, oldest forgotten first: a forgotten one reads as in doubt, as any uncovered claim).
   */
  readonly #unstarted = new Set<string>();
  #replay: { positions: Record<string, number>; at: number } | undefined;

  private constructor(kv: KV, gate: ReadGate, writer: RecordWriter, bucket: string, clock: Clock, replica: number) {
    this.#kv = kv;
    this.#gate = gate;
    this.#writer = writer;
    this.#bucket = bucket;
    this.#clock = clock;
    this.#replica = replica;
    this.#floor = this.#newFloor();
  }

  /** The id P this process's new claims carry (their floor is the entry `=floor.<P>`). */
  get processId(): string {
    return this.#floor.id;
  }

  /** Bind the agency's handled bucket (no API round trip: entries are written by publish and read by direct get). */
  static async open(nc: NatsConnection, agency: string, o: { clock: Clock; replica: number }): Promise<HandledRecord> {
    const bucket = bucketName(agency, HANDLED_BUCKET);
    const kv = await new Kvm(agencyJetStream(nc)).open(bucket, { allow_direct: true });
    // A write pending when the connection drops fails at once: a claim is claimed again (its own entry recognised,
    // see #unstarted), a floor covers its claims again in the next batch and is re-read on redelivery.
    return new HandledRecord(kv, new ReadGate(nc, 'ERR_HANDLED_RECORD'), new RecordWriter(nc, inboxPrefix(agency), { failOnDisconnect: true }), bucket, o.clock, o.replica);
  }

  /** `<sender>.<id>` (replica k > 1 of an agency keeps its own: `<sender>.<id>.r<k>`). */
  keyOf(sender: string, id: string): string {
    return handledKey(sender, id, this.#replica);
  }

  /**
   * Stop following the connection: the read gate and the writer let go of their status listeners, the writer of its
   * subscription (a write still awaiting its acknowledgement fails; a read waiting for the reconnect runs now). For a
   * record opened for one operation on a connection that lives on.
   */
  close(): void {
    this.#gate.close();
    this.#writer.close();
  }

  /**
   * The agency asked the exchange to redeliver its consumers from these stream sequences (a service
   * restored from an older snapshot): copies at or after them whose entry predates the request are
   * handled again.
   */
  allowReplay(positions: Record<string, number>): void {
    this.#replay = { positions: { ...this.#replay?.positions, ...positions }, at: this.#clock.now() };
  }

  /**
   * A dead-lettered copy (its claim released) is now on the quarantine: record it as quarantined, so no later
   * redelivery — a consumer reset replaying another entry, say — hands it to the handler unless the agency's
   * operator replays it ({@link reopen}). Leaves any other state as it is.
   */
  async markQuarantined(sender: string, id: string): Promise<void> {
    const key = this.keyOf(sender, id);
    const e = await this.#get(key);
    if (!e || e.operation !== 'PUT' || e.string().split(' ')[0] !== 'free') return;
    await this.#put(key, 'quarantined', e.revision);
  }

  /**
   * The agency's operator decided to hand a quarantined copy of (sender, id) to the handler once more: a
   * `quarantined` entry becomes `free`, so the copy's next delivery is claimed and handled once, as usual.
   * `done` (handled since: nothing to do) and `claim` (a handler has it right now) are left alone.
   */
  async reopen(sender: string, id: string): Promise<'reopened' | 'done' | 'busy'> {
    const key = this.keyOf(sender, id);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const e = await this.#get(key);
      if (!e || e.operation !== 'PUT') return 'reopened'; // no entry: the next delivery claims it anew
      const state = e.string().split(' ')[0] as RecordState;
      if (state === 'done') return 'done';
      if (state === 'claim') return 'busy';
      if (state === 'free') return 'reopened';
      if ((await this.#put(key, 'free', e.revision)) !== 'conflict') return 'reopened';
    }
    throw new LiaisonError('ERR_HANDLED_RECORD', `cannot reopen ${key}: other writers keep changing it`, { key });
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
      const created = await this.#claimAt(key, 0);
      if (created !== 'conflict') return created;
      const e = await this.#get(key);
      if (!e) continue; // expired between the two calls: claim again
      const entry = parseEntry(e.string());
      const own = this.#ownUnstarted(entry.claimOf);
      if (e.operation !== 'PUT' || entry.state === 'free' || this.#replayed(from, entry.at) || own) {
        const reclaimed = await this.#claimAt(key, e.revision);
        if (own) this.#unstarted.delete(own); // overwritten (by us, or by another writer: conflict)
        if (reclaimed !== 'conflict') return reclaimed;
        continue; // another writer claimed it meanwhile: read again
      }
      if (entry.state === 'done' || (entry.claimOf && (await this.#covered(entry.claimOf)))) return { outcome: 'done' };
      if (entry.claimOf && (await this.#finishedHere(entry.claimOf))) return { outcome: 'done' };
      if (entry.state === 'quarantined') return { outcome: 'quarantined' };
      const revision = e.revision;
      return { outcome: 'in-doubt', claimedAt: entry.at, quarantined: () => this.#write(key, 'quarantined', revision), reclaim: () => this.#reclaim(key, revision) };
    }
    throw new Error(`no stable entry after ${CLAIM_ATTEMPTS} attempts`);
  }

  /**
   * Whether the entry holds a claim this process wrote and never handed to a handler (its write failed with its
   * outcome unknown): the copy is free for this process, which claims it again on that revision. Any other claim — of
   * another process (it may have run its handler), or one of ours whose handler started — is left to the floor.
   */
  #ownUnstarted(c: { process: string; n: number } | undefined): string | undefined {
    const k = c && `${c.process} ${c.n}`;
    return k !== undefined && this.#unstarted.has(k) ? k : undefined;
  }

  /** Remember a claim of ours whose write failed before any handler started (the oldest forgotten beyond the bound). */
  #rememberUnstarted(k: string): void {
    this.#unstarted.add(k);
    if (this.#unstarted.size > MAX_UNSTARTED) this.#unstarted.delete(this.#unstarted.values().next().value!);
  }

  /**
   * Whether the claim is this process's, numbered in its current floor, and finished here (its handler succeeded)
   * although the durable floor does not cover it: the floor write that was to cover it failed with its outcome unknown
   * (the connection lost). Re-checked, not assumed: the floor is written again and this resolves true once that write
   * is durable (it rejects if that write fails too: the record is unavailable, the copy claimed again later).
   */
  async #finishedHere(c: { process: string; n: number }): Promise<boolean> {
    const floor = this.#floor;
    if (c.process !== floor.id || !covers(floor.current(), c.n)) return false;
    await floor.finish(c.n);
    return true;
  }

  /** Whether process P's durable floor covers its claim number n (no floor, or an unreadable one: not covered). */
  async #covered(c: { process: string; n: number }): Promise<boolean> {
    const f = await this.#get(floorKey(c.process));
    return !!f && f.operation === 'PUT' && covers(parseFloor(f.string()), c.n);
  }

  async #reclaim(key: string, revision: number): Promise<Claim> {
    const r = await this.#claimAt(key, revision);
    if (r === 'conflict') throw new LiaisonError('ERR_HANDLED_RECORD', `cannot claim ${key} again: another writer changed it`, { key });
    return r;
  }

  /** Write a claim numbered in the current floor at `key` if its last revision is `expected` (0: absent). */
  async #claimAt(key: string, expected: number): Promise<Claim | 'conflict'> {
    if (this.#floor.abandoned >= MAX_ABANDONED) this.#floor = this.#newFloor();
    const floor = this.#floor;
    const n = floor.take();
    let r: number | 'conflict';
    try {
      r = await this.#put(key, claimText(this.#clock.now(), floor.id, n), expected);
    } catch (err) {
      floor.abandon(n); // the claim may have been stored: it stays uncovered (in doubt to every other process)
      this.#rememberUnstarted(`${floor.id} ${n}`);
      throw err;
    }
    if (r === 'conflict') {
      floor.drop(n);
      return 'conflict';
    }
    const revision = r;
    return {
      outcome: 'claimed',
      finish: () => floor.finish(n),
      release: async () => {
        try {
          await this.#write(key, 'free', revision);
        } catch (err) {
          floor.abandon(n); // still `claim … n`: it must never be covered
          throw err;
        }
        floor.drop(n);
      },
    };
  }

  #newFloor(): DoneFloor {
    return new DoneFloor(async (key, text) => {
      // A plain put (no expected revision): only this process writes its floor, one write at a time.
      const r = await this.#writer.put(agencyJsApi(`$KV.${this.#bucket}.${key}`), encoder.encode(text), undefined);
      if (r === 'conflict') throw new LiaisonError('ERR_HANDLED_RECORD', `floor ${key} refused`, { key });
    }, this.#clock);
  }

  /** Overwrite the entry this process claimed (only if nobody wrote it since). */
  async #write(key: string, state: 'free' | 'quarantined', revision: number): Promise<void> {
    const r = await this.#put(key, stateText(state, this.#clock.now()), revision);
    if (r === 'conflict') throw new LiaisonError('ERR_HANDLED_RECORD', `cannot mark ${key} ${state}: another writer changed it`, { key });
  }

  /** Write `text` at `key` if its last revision is `expected` (0: absent). */
  #put(key: string, text: string, expected: number): Promise<number | 'conflict'> {
    // Through the agency's import of its own bucket (account-routes.ts), as nats.js's KV would write it.
    return this.#writer.put(agencyJsApi(`$KV.${this.#bucket}.${key}`), encoder.encode(text), expected);
  }

  /** The entry at `key` as stored now (removal markers too), read through the gate. */
  #get(key: string): ReturnType<KV['get']> {
    return this.#gate.read(key, () => this.#kv.get(key));
  }

  #replayed(from: DeliveredFrom | undefined, at: number): boolean {
    const r = this.#replay;
    if (!r || !from) return false;
    const first = r.positions[from.consumer];
    return first !== undefined && from.streamSeq >= first && at < r.at;
  }
}
