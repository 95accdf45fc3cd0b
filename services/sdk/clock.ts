/** An injectable clock: services and simulations use it instead of `Date.now()`. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A simulated clock that starts at `start` and runs `speed` times faster than real time (a
 * simulation runs days in seconds: speed 86 400 makes a real second a simulated day).
 */
export function scaledClock(speed: number, start: number = Date.now(), real: () => number = Date.now): Clock {
  const t0 = real();
  return { now: () => start + (real() - t0) * speed };
}

/** Real time plus an offset the caller moves forward (a demo jumps "14 days later" without waiting). */
export class OffsetClock implements Clock {
  #offset = 0;
  now(): number {
    return Date.now() + this.#offset;
  }
  advance(ms: number): void {
    this.#offset += ms;
  }
}
