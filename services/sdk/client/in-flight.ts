import { LiaisonError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import type { Delivery, ReceiveStats } from './consume.ts';

/** The bounds of a consumer's `maxInFlight` option (ConsumeOptions). */
export const MAX_IN_FLIGHT_RANGE = { min: 1, max: 1024 } as const;

/**
 * Check a consumer's `maxInFlight` option: undefined (the default applies) or an integer within
 * {@link MAX_IN_FLIGHT_RANGE}; anything else is ERR_USAGE.
 */
export function checkMaxInFlight(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = MAX_IN_FLIGHT_RANGE;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new LiaisonError('ERR_USAGE', `maxInFlight must be an integer from ${min} to ${max} (copies one consumer holds in process), not ${typeof value === 'number' ? value : typeof value}`, {
    maxInFlight: typeof value === 'number' ? value : String(value),
  });
}

/**
 * The copies one consumer loop holds in process: pulled from JetStream, not yet settled at the
 * handler. Bounded (the loop pulls only into free slots), counted in the receiver's stats
 * (`inFlight`, `inFlightHighWater`, summed over its loops), and kept alive: every held copy, waiting
 * or at the handler, gets `working()` every `workingEveryMs`, so a slow but live receiver's copies are
 * not redelivered (and do not use up their deliveries) while they wait their turn.
 */
export class InFlight {
  readonly limit: number;
  readonly #held = new Set<Delivery>();
  readonly #stats: ReceiveStats;
  readonly #logger: Logger;
  readonly #beat: ReturnType<typeof setInterval>;
  #wake: (() => void) | undefined;
  #wanted = 0;

  constructor(o: { limit: number; stats: ReceiveStats; logger: Logger; workingEveryMs: number }) {
    this.limit = o.limit;
    this.#stats = o.stats;
    this.#logger = o.logger;
    this.#stats.inFlight ??= 0;
    this.#stats.inFlightHighWater ??= 0;
    this.#beat = setInterval(() => this.#working(), o.workingEveryMs);
  }

  /** Slots free for more copies. */
  free(): number {
    return this.limit - this.#held.size;
  }

  /** A copy arrived in process. */
  add(m: Delivery): void {
    this.#held.add(m);
    const n = (this.#stats.inFlight ?? 0) + 1;
    this.#stats.inFlight = n;
    if (n > (this.#stats.inFlightHighWater ?? 0)) this.#stats.inFlightHighWater = n;
  }

  /** A copy is settled at the handler (or refused before it): its slot is free. */
  settle(m: Delivery): void {
    if (!this.#held.delete(m)) return;
    this.#stats.inFlight = (this.#stats.inFlight ?? 1) - 1;
    if (this.#wake && this.free() >= this.#wanted) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    }
  }

  /** Resolves once at least `slots` slots are free, or `signal` aborts. One waiter at a time (the loop). */
  async room(slots: number, signal: AbortSignal): Promise<void> {
    if (this.free() >= slots || signal.aborted) return;
    this.#wanted = slots;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Stop the heartbeats (the loop ended; copies still held are left to their ack wait). */
  stop(): void {
    clearInterval(this.#beat);
    this.#wake?.();
  }

  #working(): void {
    for (const m of this.#held) {
      try {
        m.working();
      } catch (err) {
        this.#logger.debug({ err }, 'could not extend the ack deadline of a held copy');
        return;
      }
    }
  }
}
