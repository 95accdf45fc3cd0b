/**
 * Waiting for JetStream to answer before administering it. Right after a cluster node dies, a request can go
 * unanswered — sent on a connection to the dead node before the client noticed, or to a meta leader that no longer
 * exists — and a JetStream request waits out its whole timeout (5 s) before it is tried again. Short probes find the
 * moment JetStream answers again (the connection moved, a meta leader elected) within a fraction of that.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { isTransient } from './replicas.ts';

/** The first probe's timeout; each unanswered probe doubles it, up to {@link MAX_PROBE_MS}. */
const FIRST_PROBE_MS = 500;
const MAX_PROBE_MS = 4_000;

/**
 * A JetStream manager for `nc` once JetStream answers (an account info request, probed with short timeouts that
 * grow), for at most `timeoutMs`. ERR_EXCHANGE when it does not answer by then or answers with a lasting error.
 * `requestTimeoutMs`: the returned manager's timeout per request (default nats.js's 5 s) — shorter for steps that are
 * retried and idempotent, so a request lost with a dead node is sent again sooner.
 */
export async function jetStreamWhenReady(nc: NatsConnection, timeoutMs = 60_000, requestTimeoutMs?: number): Promise<JetStreamManager> {
  const deadline = Date.now() + timeoutMs;
  let probeMs = FIRST_PROBE_MS;
  for (;;) {
    try {
      await jetstreamManager(nc, { timeout: probeMs });
      return await jetstreamManager(nc, { checkAPI: false, ...(requestTimeoutMs === undefined ? {} : { timeout: requestTimeoutMs }) });
    } catch (err) {
      if (!isTransient(err) || Date.now() > deadline) throw asLiaisonError(err, 'ERR_EXCHANGE', 'JetStream is not available to the exchange account');
      probeMs = Math.min(probeMs * 2, MAX_PROBE_MS);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
