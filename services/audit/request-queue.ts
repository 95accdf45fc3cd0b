import { LiaisonError } from '../sdk/errors.ts';
import type { Get } from './facts.ts';
import { MissedTally, type MissReason, type QueriesMissedBody } from './missed-tally.ts';

/** A request seen on an audited subject, as the audit holds it until it is recorded. */
export interface SeenRequest {
  subject: string;
  data: Uint8Array;
  reply?: string;
  header: Get;
  /** Arrival at the audit (ISO 8601). */
  at: string;
}

/** What the pump takes next: a request to record, or the requests not recorded before it. */
export type QueuedItem = { request: SeenRequest; missed?: undefined } | { missed: QueriesMissedBody; request?: undefined };

/** Bounds of the audit's queue of requests to record. */
export interface RequestQueueOptions {
  /** Items held at most (requests, and the `queries-missed` markers between them); default {@link DEFAULT_MAX_REQUESTS}, at least 2. */
  maxRequests?: number;
  /** Bytes held at most (request bodies, subjects and reply subjects); default {@link DEFAULT_MAX_REQUEST_BYTES}. */
  maxBytes?: number;
  /** Called when requests start being counted instead of held (once per overflow episode). */
  onOverflow?: (o: { held: number; heldBytes: number }) => void;
}

/** Default bound on the requests held for recording. */
export const DEFAULT_MAX_REQUESTS = 4_096;
/** Default bound on their bytes. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** Counters of the queue (the audit's stats). */
export interface RequestQueueStats {
  /** Items held now (queued, and taken but not yet appended), and their bytes. */
  held: number;
  heldBytes: number;
  /** The most items ever held at once (never above `maxRequests`). */
  highWater: number;
  maxRequests: number;
  maxBytes: number;
  /** Requests not recorded since the start (each in a `queries-missed` entry, or counted for the next one). */
  missed: number;
  /** Overflow episodes: each a run of requests not held, closed by one `queries-missed` entry. */
  episodes: number;
}

/**
 * The audit's bounded queue of requests to record, in arrival order (issue 16). Requests are core NATS: they cannot
 * wait in JetStream, so beyond the bound they are not held but counted ({@link MissedTally}); once there is room
 * again, a marker carrying the count is queued before the next request held (or taken when the queue runs empty), so
 * the ledger says, in its place, how many requests it does not record.
 */
export class RequestQueue {
  readonly maxRequests: number;
  readonly maxBytes: number;
  readonly #onOverflow: RequestQueueOptions['onOverflow'];
  readonly #tally = new MissedTally();
  #items: QueuedItem[] = [];
  #head = 0;
  #bytes = 0;
  /** Requests taken and not yet {@link done}, and their bytes (still held: being verified and appended). */
  #taken = 0;
  #takenBytes = 0;
  readonly #stats = { highWater: 0, missed: 0, episodes: 0 };

  constructor(o: RequestQueueOptions = {}) {
    this.maxRequests = o.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    if (!Number.isSafeInteger(this.maxRequests) || this.maxRequests < 2) throw new LiaisonError('ERR_USAGE', `the audit's request queue must hold at least 2 items, not ${String(this.maxRequests)}`);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw new LiaisonError('ERR_USAGE', `the audit's request queue bytes must be a positive integer, not ${String(this.maxBytes)}`);
    this.#onOverflow = o.onOverflow;
  }

  /** Items queued now (not taken yet). */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Items held now: queued, and taken but not yet {@link done}. */
  get held(): number {
    return this.length + this.#taken;
  }

  /** True when nothing is held and nothing is counted as missed: everything seen is in the writer's hands. */
  get empty(): boolean {
    return this.held === 0 && !this.#tally.open;
  }

  /** Hold a request, or count it as missed when the queue is at its bound: true when held. */
  offer(r: SeenRequest): boolean {
    const size = sizeOf(r);
    // A request held after missed ones needs a slot for the marker saying so.
    const slots = this.#tally.open ? 2 : 1;
    if (this.held + slots > this.maxRequests || this.#bytes + this.#takenBytes + size > this.maxBytes) {
      this.miss(r, 'queue-full');
      return false;
    }
    const missed = this.#tally.close(r.at);
    if (missed) this.#push({ missed }, 0);
    this.#push({ request: r }, size);
    return true;
  }

  /** Count a request as not recorded (its entry could not be appended, or the queue is full). */
  miss(r: Pick<SeenRequest, 'subject' | 'at'>, reason: MissReason): void {
    if (!this.#tally.open) {
      this.#stats.episodes++;
      this.#onOverflow?.({ held: this.held, heldBytes: this.#bytes + this.#takenBytes });
    }
    this.#tally.add(r.subject, r.at, reason);
    this.#stats.missed++;
  }

  /** Count again the requests of a marker whose entry could not be appended. */
  restore(body: QueriesMissedBody): void {
    if (!this.#tally.open) this.#stats.episodes++;
    this.#tally.restore(body);
  }

  /**
   * The next item, oldest first; when none is queued, the requests counted as missed (one marker), else undefined.
   * A request taken is still held (counted against the bounds) until {@link done}.
   */
  take(now: () => string = () => new Date().toISOString()): QueuedItem | undefined {
    if (this.length === 0) {
      const missed = this.#tally.close(now());
      return missed ? { missed } : undefined;
    }
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as QueuedItem;
    if (item.request) {
      const size = sizeOf(item.request);
      this.#bytes -= size;
      this.#takenBytes += size;
      this.#taken++;
    }
    if (this.#head > 1_024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** A request taken is appended (or counted as missed): it is no longer held. */
  done(item: QueuedItem): void {
    if (!item.request) return;
    this.#taken--;
    this.#takenBytes -= sizeOf(item.request);
  }

  stats(): RequestQueueStats {
    return { held: this.held, heldBytes: this.#bytes + this.#takenBytes, highWater: this.#stats.highWater, maxRequests: this.maxRequests, maxBytes: this.maxBytes, missed: this.#stats.missed, episodes: this.#stats.episodes };
  }

  #push(item: QueuedItem, size: number): void {
    this.#items.push(item);
    this.#bytes += size;
    this.#stats.highWater = Math.max(this.#stats.highWater, this.held);
  }
}

/** What a held request costs: its body, subject and reply subject. */
function sizeOf(r: SeenRequest): number {
  return r.data.byteLength + r.subject.length + (r.reply?.length ?? 0);
}
