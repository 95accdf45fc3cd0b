/**
 * Stream order at the handler when earlier copies are out of reach for a while (both consumer loops: consume.ts,
 * concurrent-consume.ts). JetStream sends a copy again only after the consumer's ack wait when the copy was delivered
 * and never acknowledged: a previous instance of the receiver took it and died, or it was lost in transit when the
 * connection died (the receiver's server was killed, a cluster node went down, the link broke). The copies after it
 * are delivered at once, so they would reach the handler first.
 *
 * A copy can also be lost with the connection up: delivered to a pull the client already gave up on (its heartbeats
 * missed under load: nats.js ends the pull while the server may still deliver to it), or its frames lost between
 * servers (a cluster route, a leaf link). Its pull then ends short (pull.ts {@link PullEnd}: it failed, or fewer
 * copies arrived than the server's end of the pull said it sent).
 *
 * A barrier (a "wall" at a stream sequence) holds the copies past it — in process, counted against the loop's
 * in-flight limit and kept alive like every held copy — until every copy up to it is settled at the consumer (its
 * ack floor reached it), while copies up to it pass; then the held ones go on, in stream order. A wall is raised
 *  - at start, when the consumer has copies outstanding: at its delivered sequence;
 *  - when deliveries may have been lost — the connection dropped, or one of this loop's pulls ended short — and then a
 *    copy arrives whose delivery sequence skips deliveries this loop never got: just before the first new copy (first
 *    delivery) from then on. A gap alone is not a loss: replicas of an agency may share a consumer (the case
 *    registry's), and then every loop sees gaps — the other's deliveries. Without a loss a loop gets every delivery
 *    (redeliveries and naks included, each with the next delivery sequence), so it sees no gap and raises no wall.
 *    The first copy without a gap (after the reconnect, or after the short pull) says nothing was lost.
 * A wall comes down at the latest {@link BARRIER_MAX_MS} past the consumer's ack wait (the copies then run; logged).
 *
 * @module
 */
import type { Consumer } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging.ts';
import type { Delivery } from './consume.ts';
import { pause, type PullEnd } from './pull.ts';

/**
 * How long past the consumer's ack wait copies wait at a wall for the copies before it (then they run; the wait is
 * logged). Generous: an earlier copy may legitimately take longer than one ack wait — a copy handled just before the
 * connection died stays in progress until its done write fails (record-writer.ts, 10 s), and only then its ack wait
 * starts; a copy whose claim finds the record unreachable waits at its place up to 30 s (at-most-once.ts).
 */
export const BARRIER_MAX_MS = 60_000;
/** How often the consumer's ack floor is read while a wall is up. */
export const BARRIER_POLL_MS = 200;
/** While the held copies fill their share of the window, how often one copy is pulled to see whether the earlier ones are back. */
export const BARRIER_PROBE_MS = 1_000;

/** A wall: copies past `seq` wait until the ack floor reaches it. */
interface Wall {
  seq: number;
  /** When it comes down anyway. */
  deadline: number;
}

/** What may have lost deliveries: the connection dropped, or a pull of this loop ended short. */
type LossCause = 'disconnect' | 'short pull';

/** What a barrier needs from its loop. */
export interface OrderBarrierOptions {
  /** The connection the consumer is read through (its disconnects are watched). */
  nc: NatsConnection;
  consumer: Consumer;
  /** The consumer's name (for the log). */
  name: string;
  logger: Logger;
  /** The consumer's ack wait, ms. */
  ackWaitMs: number;
  signal: AbortSignal;
  /** A held copy may go on now (called in stream order). */
  release: (m: Delivery) => void;
  /** The loop stopped: a held copy goes back to JetStream. */
  handBack: (m: Delivery) => void;
  /** Copies of the loop in process now (pulled, not settled: held ones included). */
  inProcess: () => number;
  /** The consumer's state when the loop started. */
  start: { deliveredConsumerSeq: number; deliveredStreamSeq: number; ackPending: number };
}

/** One loop's barrier: {@link OrderBarrier.hold} each pulled copy; pull only {@link OrderBarrier.pullable} copies. */
export class OrderBarrier {
  readonly #o: OrderBarrierOptions;
  /** Raised walls, lowest first. */
  readonly #walls: Wall[] = [];
  /** Copies past the lowest wall, in arrival order. */
  #held: Delivery[] = [];
  /** The highest delivery sequence this loop got. */
  #lastDelivery: number;
  /** Deliveries were skipped (after what): a wall goes up before the next first delivery. */
  #gap: LossCause | undefined;
  /** Why deliveries may have been lost since (a gap in the delivery sequence is then a loss); absent: none may have. */
  #mayHaveLost: LossCause | undefined;
  /** …and the next copy comes through again (reconnected, or a later pull): one without a gap says nothing was lost. */
  #flowing = false;
  #polling = false;
  /** Copies the consumer counts delivered and unacknowledged that this loop does not hold (at the last poll): they come back. */
  #outstanding = 0;
  /** A copy before a wall came back since the last pull: more may be ready. */
  #cameBack = false;
  #nextProbe = 0;

  constructor(o: OrderBarrierOptions) {
    this.#o = o;
    this.#lastDelivery = o.start.deliveredConsumerSeq;
    if (o.start.ackPending > 0) this.#raise(o.start.deliveredStreamSeq);
    o.signal.addEventListener('abort', () => this.#handBackAll(), { once: true });
    void this.#watch();
  }

  /** Follow the connection's disconnects and reconnects until the loop stops. */
  async #watch(): Promise<void> {
    const status = this.#o.nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    this.#o.signal.addEventListener('abort', () => status.stop?.(), { once: true });
    for await (const s of status) {
      if (s.type === 'disconnect') {
        this.#mayHaveLost = 'disconnect';
        this.#flowing = false;
      } else if (s.type === 'reconnect') this.#flowing = true;
    }
  }

  /** A wall is up. */
  get up(): boolean {
    return this.#walls.length > 0;
  }

  /** Copies held at a wall now. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * One of this loop's pulls ended (before the next starts). A short one may have lost copies: the next copy that
   * skips deliveries raises a wall (while the connection is down, its reconnect still decides when a copy without a
   * gap says nothing was lost).
   */
  pullEnded(end: PullEnd): void {
    if (end !== 'short' || this.#mayHaveLost !== undefined) return;
    this.#mayHaveLost = 'short pull';
    this.#flowing = true;
  }

  /**
   * A pulled copy arrives (already counted in flight): true when it is held here. It is released, in stream
   * order, once the copies before the wall it waits at are settled.
   */
  hold(m: Delivery): boolean {
    const info = m.info;
    if (!info || this.#o.signal.aborted) return false;
    const dseq = info.deliverySequence;
    if (dseq !== undefined && this.#mayHaveLost !== undefined) {
      // A copy read before the drop may be taken after it: only a copy after the reconnect without a gap clears it.
      if (dseq > this.#lastDelivery + 1) {
        this.#gap = this.#mayHaveLost;
        this.#mayHaveLost = undefined;
      } else if (this.#flowing) this.#mayHaveLost = undefined;
    }
    if (dseq !== undefined) this.#lastDelivery = Math.max(this.#lastDelivery, dseq);
    if (this.#gap && (info.deliveryCount ?? 1) === 1) {
      // Deliveries skipped: the copies in them come back after their ack wait, before this one in the stream.
      const after = this.#gap;
      this.#gap = undefined;
      this.#o.logger.debug({ consumer: this.#o.name, streamSeq: info.streamSequence, deliverySeq: dseq, after }, 'deliveries were lost in transit: later copies wait for them');
      this.#raise(info.streamSequence - 1);
    }
    const low = this.#walls[0];
    if (!low) return false;
    if (info.streamSequence <= low.seq) {
      if ((info.deliveryCount ?? 1) > 1) this.#cameBack = true;
      return false;
    }
    this.#held.push(m);
    return true;
  }

  /**
   * How many copies to pull now, of `free` slots out of `limit`. While a wall is up, held copies may take three
   * quarters of the window; the rest is kept for the earlier copies, which the server sends first once their ack wait
   * is over, but which a pull brings only then (until then a pull brings later copies, held). So once the held copies
   * fill their share, and copies are outstanding at the consumer, one copy is pulled every {@link BARRIER_PROBE_MS};
   * when a pull brought an earlier copy back, the next one asks for as many as are outstanding.
   * While deliveries may have been lost (after a disconnect or a short pull, until a copy settles it) a pull asks for
   * at most that share even without a wall: one may rise on its first copy, and every copy it brings past the wall is
   * then held — a pull for the whole window would fill it with held copies, leaving no slot for the earlier ones the
   * wall waits for (until its deadline). Otherwise (no loss in sight) a pull takes every free slot.
   */
  pullable(free: number, limit: number): number {
    const cap = Math.max(1, limit - Math.ceil(limit / 4));
    if (!this.up) return this.#mayHaveLost === undefined && this.#gap === undefined ? free : Math.min(free, cap);
    if (this.#held.length < cap) return Math.max(0, Math.min(free, cap - this.#held.length));
    if (free === 0 || this.#outstanding === 0) return 0;
    if (this.#cameBack) {
      this.#cameBack = false;
      return Math.min(free, this.#outstanding);
    }
    const now = Date.now();
    if (now < this.#nextProbe) return 0;
    this.#nextProbe = now + BARRIER_PROBE_MS;
    return 1;
  }

  #raise(seq: number): void {
    if (seq < 0 || this.#walls.some((w) => w.seq === seq)) return;
    const now = Date.now();
    this.#walls.push({ seq, deadline: now + this.#o.ackWaitMs + BARRIER_MAX_MS });
    this.#walls.sort((a, b) => a.seq - b.seq);
    if (!this.#polling) void this.#poll();
  }

  /** Read the ack floor until every wall is down (or the loop stops), releasing held copies as walls come down. */
  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#walls.length > 0 && !this.#o.signal.aborted) {
        const floor = await this.#o.consumer.info().then(
          (i) => {
            this.#outstanding = Math.max(0, i.num_ack_pending - this.#o.inProcess());
            return i.ack_floor.stream_seq;
          },
          () => 0,
        );
        if (this.#o.signal.aborted) return;
        this.#lower(floor);
        if (this.#walls.length > 0) await pause(BARRIER_POLL_MS, this.#o.signal);
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Take down the walls the ack floor reached or whose deadline passed (and every wall below), then release. */
  #lower(floor: number): void {
    const now = Date.now();
    let down = 0;
    this.#walls.forEach((w, i) => {
      if (w.seq <= floor || now >= w.deadline) down = i + 1;
    });
    if (down === 0) return;
    const gone = this.#walls.splice(0, down);
    const last = gone[gone.length - 1]!;
    if (last.seq > floor) this.#o.logger.warn({ consumer: this.#o.name, seq: last.seq, floor }, 'copies delivered before this one are still outstanding past their ack wait; later copies run now');
    const next = this.#walls[0]?.seq ?? Infinity;
    const seqOf = (m: Delivery) => m.info?.streamSequence ?? 0;
    const ordered = this.#held.sort((a, b) => seqOf(a) - seqOf(b));
    const go = ordered.filter((m) => seqOf(m) <= next);
    this.#held = ordered.filter((m) => seqOf(m) > next);
    for (const m of go) this.#o.release(m);
  }

  #handBackAll(): void {
    for (const m of this.#held.splice(0)) this.#o.handBack(m);
  }
}
