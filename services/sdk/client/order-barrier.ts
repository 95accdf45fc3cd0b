/**
 * Stream order at the handler when earlier copies are out of reach for a while (both consumer loops: consume.ts,
 * concurrent-consume.ts). JetStream sends a copy again only after the consumer's ack wait when the copy was delivered
 * and never acknowledged: a previous instance of the receiver took it and died, or it was lost in transit when the
 * connection died (the receiver's server was killed, a cluster node went down, the link broke). The copies after it
 * are delivered at once, so they would reach the handler first.
 *
 * A barrier (a "wall" at a stream sequence) holds the copies past it — in process, counted against the loop's
 * in-flight limit and kept alive like every held copy — until every copy up to it is settled at the consumer (its
 * ack floor reached it), while copies up to it pass; then the held ones go on, in stream order. A wall is raised
 *  - at start, when the consumer has copies outstanding: at its delivered sequence;
 *  - after the connection dropped, when a copy arrives whose delivery sequence skips deliveries this loop never got
 *    (lost in transit): just before the first new copy (first delivery) from then on. Only after a disconnect: replicas
 *    of an agency may share a consumer (the case registry's), and then every loop sees gaps — the other's deliveries.
 * A wall comes down at the latest {@link BARRIER_MAX_MS} past the consumer's ack wait (the copies then run; logged).
 *
 * @module
 */
import type { Consumer } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging.ts';
import type { Delivery } from './consume.ts';
import { pause } from './pull.ts';

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
  /** Deliveries were skipped: a wall goes up before the next first delivery. */
  #gap = false;
  /** The connection dropped since: a gap in the delivery sequence is a loss in transit. */
  #disconnected = false;
  /** …and it is back: a copy without a gap then says nothing was lost. */
  #reconnected = false;
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
        this.#disconnected = true;
        this.#reconnected = false;
      } else if (s.type === 'reconnect') this.#reconnected = true;
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
   * A pulled copy arrives (already counted in flight): true when it is held here. It is released, in stream
   * order, once the copies before the wall it waits at are settled.
   */
  hold(m: Delivery): boolean {
    const info = m.info;
    if (!info || this.#o.signal.aborted) return false;
    const dseq = info.deliverySequence;
    if (dseq !== undefined && this.#disconnected) {
      // A copy read before the drop may be taken after it: only a copy after the reconnect without a gap clears it.
      if (dseq > this.#lastDelivery + 1) {
        this.#gap = true;
        this.#disconnected = false;
      } else if (this.#reconnected) this.#disconnected = false;
    }
    if (dseq !== undefined) this.#lastDelivery = Math.max(this.#lastDelivery, dseq);
    if (this.#gap && (info.deliveryCount ?? 1) === 1) {
      // Deliveries skipped: the copies in them come back after their ack wait, before this one in the stream.
      this.#gap = false;
      this.#o.logger.debug({ consumer: this.#o.name, streamSeq: info.streamSequence, deliverySeq: dseq }, 'deliveries were lost in transit: later copies wait for them');
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
   */
  pullable(free: number, limit: number): number {
    if (!this.up) return free;
    const cap = Math.max(1, limit - Math.ceil(limit / 4));
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
