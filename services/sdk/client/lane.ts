/**
 * The copies of one consumer loop between the pull and the handler, in delivery order (consume.ts's
 * `fillWindow` moves them along): pulled (`arrived`), being verified (`opening`: at once on the calling
 * thread, or on a crypto pool's worker threads), verified with their claim taken ahead (`window`).
 *
 * @module
 */
import type { Delivery, Prepared, ReceiveLoopOptions } from './consume.ts';
import type { InFlight } from './in-flight.ts';
import { giveBack } from './pull.ts';

/** A pulled copy whose preparation has started: done at once on the calling thread, later on a crypto pool. */
export interface Opening {
  m: Delivery;
  done: boolean;
  /** Once done: the prepared copy, or undefined when it was settled on the way (refused, own, redelivered later). */
  p?: Prepared;
  /** Settles (never rejects) once done. */
  ready?: Promise<void>;
}

/** One loop's copies between the pull and the handler. */
export interface Lane {
  /** Pulled, not looked at yet. */
  arrived: Delivery[];
  /** Preparation started, in delivery order. */
  opening: Opening[];
  /** Verified and fresh, claims taken ahead: next at the handler. */
  window: Prepared[];
}

/** An empty lane. */
export function newLane(): Lane {
  return { arrived: [], opening: [], window: [] };
}

/** Track a copy's preparation (`prepareDelivery`'s result: a promise never rejects). */
export function openingOf(m: Delivery, r: Prepared | undefined | Promise<Prepared | undefined>): Opening {
  if (!(r instanceof Promise)) return { m, done: true, p: r };
  const x: Opening = { m, done: false };
  x.ready = r.then((p) => {
    x.p = p;
    x.done = true;
  });
  return x;
}

/** Stopping: copies still being verified go back to JetStream once checked (a refused one stays settled as it was). */
export function handBackOpening(o: ReceiveLoopOptions, inFlight: InFlight, opening: Opening[]): void {
  for (const x of opening) {
    void Promise.resolve(x.ready)
      .then(() => (x.p ? giveBack(o, x.p) : undefined))
      .finally(() => inFlight.settle(x.m));
  }
}
