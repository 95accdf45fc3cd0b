/**
 * The pulling half of a consumer loop, shared by the in-order loop (consume.ts) and the concurrent one
 * (concurrent-consume.ts): one bounded pull request at a time, the keep-alive period of held copies, and
 * the hand-back of copies a stopping loop pulled but did not start.
 *
 * @module
 */
import type { Consumer } from '@nats-io/jetstream';
import type { Logger } from '../logging.ts';
import type { Delivery, Prepared, ReceiveLoopOptions } from './consume.ts';

/** How long one pull request waits for messages before the consumer issues a new one. */
export const PULL_EXPIRES_MS = 2_000;

/** Keep-alive period for held copies: a third of the ack wait (nanoseconds), within [100 ms, 10 s]. */
export function workingEvery(ackWaitNanos: number | undefined): number {
  const ackWaitMs = ackWaitNanos ? ackWaitNanos / 1_000_000 : 30_000;
  return Math.min(10_000, Math.max(100, Math.floor(ackWaitMs / 3)));
}

/** Hand a prepared, undispatched copy back: free its durable claim (if one was taken ahead), then nak it for redelivery now. */
export async function giveBack(o: ReceiveLoopOptions, p: Prepared): Promise<void> {
  try {
    const c = p.claim ? await p.claim : undefined;
    if (c?.outcome === 'claimed') await c.release();
  } catch (err) {
    o.logger.warn({ err, msgId: p.msg.header.id }, 'could not free the claim of a copy handed back on stop; it may come back in doubt');
  }
  p.m.nak();
}

/**
 * How a pull ended: `whole` when every copy the server sent it arrived (its whole batch, or as many as the server's
 * end of the pull said it sent); `short` when it ended without that — it failed (e.g. its heartbeats were missed, so
 * the client gave it up while the server may still deliver to it) or fewer copies arrived than were sent: copies
 * delivered to it may be lost. `stopped` when the loop stopped it.
 */
export type PullEnd = 'whole' | 'short' | 'stopped';

/**
 * One pull request for up to `max` copies, each passed to `take` as it arrives; resolves when the batch
 * is complete, the request expired, or `signal` aborted, with how it ended ({@link PullEnd}). A failed or
 * empty-and-early pull (the consumer is gone, the route was dropped) is logged and followed by a pause, never a
 * tight loop.
 */
export async function pullOnce(o: { logger: Logger; name: string }, consumer: Consumer, max: number, signal: AbortSignal, take: (m: Delivery) => void): Promise<PullEnd> {
  const started = Date.now();
  let got = 0;
  let end: PullEnd = 'short';
  try {
    const batch = await consumer.fetch({ max_messages: max, expires: PULL_EXPIRES_MS });
    const sent = sentBy(batch.status(), max);
    const stop = () => void batch.stop();
    // An abort that came while the request was being set up stops it now (the listener was not there yet).
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of batch) {
        got++;
        take(m);
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
    const expected = await sent;
    end = got >= expected ? 'whole' : 'short';
    if (end === 'short' && !signal.aborted) o.logger.debug({ consumer: o.name, sent: expected, got }, 'a pull ended with fewer copies than the server sent it: copies may be lost');
  } catch (err) {
    if (!signal.aborted) o.logger.warn({ err, consumer: o.name }, 'pull failed; retrying');
  }
  if (signal.aborted) end = 'stopped';
  if (got === 0 && !signal.aborted && Date.now() - started < PULL_EXPIRES_MS / 2) await pause(1_000, signal);
  return end;
}

/**
 * How many copies the server sent a pull of `max`, read from its notifications once it ended: `max` less what the
 * server's end of the pull (a 408/409 status) said was left; `max` when no such end came (the batch was complete).
 */
async function sentBy(status: AsyncIterable<{ type: string; messagesLeft?: number }>, max: number): Promise<number> {
  let left = 0;
  for await (const n of status) if (n.type === 'discard') left += n.messagesLeft ?? 0;
  return max - left;
}

/** Wait `ms`, or less if `signal` aborts (at once if it has). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
