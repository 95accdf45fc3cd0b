import type { NatsConnection } from '@nats-io/transport-node';
import { settleBy } from '../settle-by.ts';

/**
 * Drain `nc` (its subscriptions finish what they hold, then it closes) until the epoch-ms deadline `by`, then close it
 * as it is. nats.js's drain waits for the server's answer to a PING with no timeout of its own: on a server that
 * stopped answering, or a connection reconnecting to one that refuses it, it would wait for ever. True when the drain
 * finished in time.
 */
export async function drainBy(nc: NatsConnection, by: number): Promise<boolean> {
  if (nc.isClosed()) return true;
  const drained = await settleBy(nc.drain(), by);
  if (drained.state === 'done') return true;
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
  return false;
}
