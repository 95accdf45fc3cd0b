/**
 * The pull loop of both consumer loops (consume.ts, concurrent-consume.ts): one bounded pull at a time into free
 * slots of the loop's in-flight window, each copy counted in flight and then passed through the loop's
 * {@link OrderBarrier} (copies past a wall wait there, in flight, kept alive) to the loop's pipeline; the barrier
 * is told how each pull ended (one that ended short may have lost copies).
 *
 * @module
 */
import type { Consumer, ConsumerInfo } from '@nats-io/jetstream';
import type { Delivery, ReceiveLoopOptions } from './consume.ts';
import type { InFlight } from './in-flight.ts';
import { BARRIER_POLL_MS, OrderBarrier } from './order-barrier.ts';
import { pause, pullOnce } from './pull.ts';

/**
 * Pull until `signal` aborts, `take`ing each copy in delivery order (a copy held at a wall: once released, in
 * stream order). Without a wall the loop refills once half the window is free, so what waits stays in JetStream.
 * While a wall is up it pulls what the barrier allows (`pullable`), into any free slot: the copies the wall holds fill
 * slots that free only once it comes down, and it comes down only once the earlier copies were pulled and settled.
 * `info` is the consumer's state when the loop starts (a fresh `consumer.info()`). Stops the window's keep-alive
 * when it ends.
 */
export async function pullLoop(o: ReceiveLoopOptions, consumer: Consumer, info: ConsumerInfo, inFlight: InFlight, signal: AbortSignal, take: (m: Delivery) => void): Promise<void> {
  const { name, config, delivered, num_ack_pending } = info;
  const barrier = new OrderBarrier({
    nc: o.nc,
    consumer,
    name,
    logger: o.logger,
    ackWaitMs: (config.ack_wait || 30_000_000_000) / 1_000_000,
    signal,
    release: take,
    handBack: (m) => {
      m.nak();
      inFlight.settle(m);
    },
    inProcess: () => inFlight.limit - inFlight.free(),
    start: { deliveredConsumerSeq: delivered.consumer_seq, deliveredStreamSeq: delivered.stream_seq, ackPending: num_ack_pending },
  });
  try {
    while (!signal.aborted) {
      await inFlight.room(barrier.up ? 1 : Math.ceil(inFlight.limit / 2), signal);
      if (signal.aborted) break;
      const max = barrier.pullable(inFlight.free(), inFlight.limit);
      if (max <= 0) {
        await pause(BARRIER_POLL_MS, signal);
        continue;
      }
      const end = await pullOnce({ logger: o.logger, name }, consumer, max, signal, (m) => {
        inFlight.add(m);
        if (!barrier.hold(m)) take(m);
      });
      barrier.pullEnded(end);
    }
  } finally {
    inFlight.stop();
  }
}
