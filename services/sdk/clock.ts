/** An injectable clock: services and simulations use it instead of `Date.now()`. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };
