import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { floorKey, floorText, type Floor } from './record-entry.ts';

/** Writes one floor value durably (resolves once JetStream acknowledged it; rejects otherwise). */
export type FloorWrite = (key: string, text: string) => Promise<unknown>;

/**
 * The done floor of one receiving process (issue 12): its claims are numbered 1, 2, 3… as they are
 * taken, and instead of one `done` write per message, one KV entry (`=floor.<P>`, record-entry.ts) says
 * which of them are finished: every number up to H, the highest taken when it was written, except the
 * holes (claims not finished then). Finishes of one event-loop turn, and of the whole round trip of the
 * write before, share one write; only one write is in flight at a time, so the entry only grows.
 *
 * Holes, not a plain "all up to n" floor: a claim that never finishes in this process (a handler that
 * runs for minutes, a claim whose write's outcome is unknown, a release that could not be written) must
 * read as in doubt forever, without holding back the finishes taken after it. A process whose abandoned
 * holes pile up ({@link DoneFloor.abandoned}) is given a fresh id by its record (handled.ts), so the entry stays small.
 *
 * `finish(n)` resolves only once a floor covering n is durable (JetStream's PubAck), and the caller
 * acknowledges the copy only then. Crash points for one message (receiver or nats-server killed):
 * - before the claim entry is stored: no entry, the redelivery is handled;
 * - claim stored, floor not (yet) covering n — whether the handler ran or not: the redelivery finds the
 *   claim uncovered and is in doubt (quarantined, never handled again);
 * - floor covering n stored, ack not sent or lost (also a nats-server that lost its ack state): the
 *   redelivery finds the claim covered and is acknowledged without handling;
 * - acknowledged: nothing is redelivered.
 * An ack sent before the floor's PubAck could be stored while the floor write is lost (a nats-server
 * killed between the two): the message would then be neither redelivered nor done, and a replay of it
 * would be taken as in doubt; the order above forbids it.
 *
 * A floor write whose PubAck timed out fails its batch (not acknowledged, so redelivered later, and then
 * done or in doubt by whatever floor was stored). It cannot be stored after a later write of the same
 * process (one connection, published in order); were it ever, the entry would step back and the claims
 * it no longer covers would read as in doubt: quarantined, never handled twice.
 *
 * Expiry: the floor entry lives in the handled bucket and expires with its max age like the claims; it is
 * rewritten on every batch while the process lives, and always after the claims it covers were written,
 * so it outlives them. An expired or unreadable floor covers nothing: its uncovered claims are in doubt.
 */
export class DoneFloor {
  /** The process id P (random; a valid KV token). */
  readonly id = randomBytes(9).toString('base64url');
  readonly #write: FloorWrite;
  readonly #clock: Clock;
  /** The highest number taken. */
  #high = 0;
  /** Numbers taken and not finished: the holes. */
  readonly #open = new Set<number>();
  #abandoned = 0;
  /** Finishes waiting for a durable floor that covers them. */
  #waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #scheduled = false;
  #writing = false;

  constructor(write: FloorWrite, clock: Clock) {
    this.#write = write;
    this.#clock = clock;
  }

  /** Take the next claim number (before its claim entry is written). */
  take(): number {
    const n = ++this.#high;
    this.#open.add(n);
    return n;
  }

  /** Claim `n` was refused (another entry was there): no entry names it, nothing to write. */
  drop(n: number): void {
    this.#open.delete(n);
  }

  /** Claim `n` must stay in doubt (its write's outcome is unknown, or its release was not written): a hole for good. */
  abandon(n: number): void {
    if (this.#open.has(n)) this.#abandoned++;
  }

  /** How many numbers were abandoned (holes kept for good). */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** The floor as it would be written now. */
  current(): Floor {
    return { high: this.#high, holes: new Set(this.#open) };
  }

  /** Claim `n` was handled: resolves once a floor covering it is durable, rejects if that write failed (n stays finished for the next). */
  finish(n: number): Promise<void> {
    this.#open.delete(n);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  /** One write covering every finish so far; the next (if finishes arrived meanwhile) after its PubAck. */
  async #flush(): Promise<void> {
    this.#writing = true;
    const batch = this.#waiting;
    this.#waiting = [];
    try {
      await this.#write(floorKey(this.id), floorText(this.#clock.now(), this.current()));
      for (const w of batch) w.resolve();
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#writing = false;
      if (this.#waiting.length > 0) this.#schedule();
    }
  }
}
