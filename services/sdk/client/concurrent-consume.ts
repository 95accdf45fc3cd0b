/**
 * A consumer loop whose handler runs several copies at once (ConsumeOptions `concurrency`): copies are
 * started in delivery order without waiting for the one before to settle, at most `concurrency` at
 * a time. Only for handlers that order what must be ordered themselves — the case registry applies
 * one case's messages one after another and different cases at once (services/workflows/partition.ts).
 *
 * Everything else is {@link runConsumer}'s (consume.ts): the same verification, claims ahead,
 * at-most-once dispatch and acknowledgement per copy (`dispatchDelivery`), the same back-pressure
 * (pulls only into free slots of `maxInFlight`, default {@link MAX_IN_FLIGHT}; held copies kept alive), the same hand-back
 * of undispatched copies on stop, the same order barrier (order-barrier.ts); the pulling itself is pull-loop.ts's,
 * shared with consume.ts.
 *
 * @module
 */
import type { Consumer } from '@nats-io/jetstream';
import { dispatchDelivery, fillWindow, MAX_IN_FLIGHT, type Delivery, type Prepared, type ReceiveLoopOptions } from './consume.ts';
import { giveBack, workingEvery } from './pull.ts';
import { pullLoop } from './pull-loop.ts';
import { BARRIER_MAX_MS } from './order-barrier.ts';
import { handBackOpening, newLane } from './lane.ts';
import { LiaisonError } from '../errors.ts';
import { InFlight, MAX_IN_FLIGHT_RANGE } from './in-flight.ts';
import type { ReceivedMessage } from '../envelope/open.ts';

const noop = (): void => undefined;

/**
 * Check a consumer's `concurrency` option: undefined (1: one copy at a time) or an integer from 1 to
 * the largest in-flight window ({@link MAX_IN_FLIGHT_RANGE}); anything else is ERR_USAGE. A loop never
 * runs more copies at once than it holds (`maxInFlight`).
 */
export function checkConcurrency(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = MAX_IN_FLIGHT_RANGE;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new LiaisonError('ERR_USAGE', `concurrency must be an integer from ${min} to ${max} (copies one consumer hands its handler at once), not ${typeof value === 'number' ? value : typeof value}`, {
    concurrency: typeof value === 'number' ? value : String(value),
  });
}

/**
 * Pull from one durable consumer until `signal` aborts, handing up to `concurrency` copies to the
 * handler at once. Handlers are called in delivery order: the next copy is dispatched once the
 * handler of the one before it was called (after its claim; for a copy in doubt, after its new claim).
 *
 * Stream order across a crash or a reconnect: copies delivered and never acknowledged (a previous instance took
 * them; they were lost in transit when the connection died) come back only after their ack wait, while later
 * copies are delivered at once; the loop's barrier (order-barrier.ts) holds the later ones until they did
 * (for at most {@link BARRIER_MAX_MS} past the ack wait).
 */
export async function runConcurrentConsumer(o: ReceiveLoopOptions, consumer: Consumer, signal: AbortSignal, concurrency: number): Promise<void> {
  const info = await consumer.info();
  const { config } = info;
  const lo: ReceiveLoopOptions = { ...o, maxDeliver: config.max_deliver, signal, workingEveryMs: workingEvery(config.ack_wait) };
  const inFlight = new InFlight({ limit: o.maxInFlight ?? MAX_IN_FLIGHT, stats: o.stats, logger: o.logger, workingEveryMs: workingEvery(config.ack_wait) });
  const take = concurrentPump(lo, inFlight, signal, Math.max(1, Math.min(concurrency, inFlight.limit)));
  await pullLoop(o, consumer, info, inFlight, signal, take);
}

/** The pipeline of one loop: `take` a pulled copy; copies are prepared in a window and started in order, up to `concurrency` running. */
function concurrentPump(loop: ReceiveLoopOptions, inFlight: InFlight, signal: AbortSignal, concurrency: number): (m: Delivery) => void {
  /** Copies whose handler the pump waits to see called before it starts the next copy. */
  const calling = new Map<ReceivedMessage, () => void>();
  const o: ReceiveLoopOptions = {
    ...loop,
    handler: (msg) => {
      calling.get(msg)?.();
      return loop.handler(msg);
    },
  };
  const lane = newLane();
  const { arrived, window } = lane;
  /** Set when the window is empty and its next copy's signature is being checked on the crypto pool. */
  let verifying: Promise<void> | undefined;
  let running = 0;
  let pumping = false;
  const fill = (): void => {
    verifying = fillWindow(o, inFlight, lane);
  };
  /** Stopping: what was pulled but not started goes back to JetStream now (claims freed); running handlers finish. */
  const handBack = (): void => {
    for (const p of window.splice(0)) void giveBack(o, p).finally(() => inFlight.settle(p.m));
    handBackOpening(o, inFlight, lane.opening.splice(0));
    for (const m of arrived.splice(0)) {
      m.nak();
      inFlight.settle(m);
    }
  };
  /** Dispatch a copy; resolves once its handler was called (or the copy settled without it: a duplicate, a dead letter…). */
  const start = (p: Prepared): Promise<void> => {
    const called = new Promise<void>((resolve) => calling.set(p.msg, resolve));
    const pending = dispatchDelivery(o, p);
    if (!pending) {
      calling.delete(p.msg);
      inFlight.settle(p.m);
      return Promise.resolve();
    }
    running++;
    const settled = () => {
      running--;
      inFlight.settle(p.m);
      void pump();
    };
    void pending.then(settled, settled);
    return Promise.race([called, pending.then(noop, noop)]).finally(() => calling.delete(p.msg));
  };
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      for (fill(); window.length > 0 && running < concurrency && !signal.aborted; fill()) {
        const p = window.shift()!;
        // The handler of each copy is called before the next copy is dispatched (a copy in doubt is claimed again first).
        await start(p);
      }
    } finally {
      pumping = false;
    }
    if (signal.aborted) handBack();
    else if (verifying) void verifying.then(() => void pump());
  };
  signal.addEventListener('abort', () => void (pumping ? undefined : handBack()), { once: true });
  return (m) => {
    if (signal.aborted) {
      m.nak();
      inFlight.settle(m);
      return;
    }
    arrived.push(m);
    void pump();
  };
}
