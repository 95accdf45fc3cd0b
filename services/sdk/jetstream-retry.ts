/**
 * JetStream requests retried through answers that pass on a cluster, for every service that needs it (the exchange's
 * provisioning, its short-lived readers, the audit's start and ledger reads): one place, not one copy per service.
 *
 * Answers that pass: a cluster electing its meta leader or a stream's leader, JetStream re-enabled for an account after
 * its JWT was pushed (several seconds on nats-server 2.9), a request lost with a dead node. On a cluster with a node
 * down nats-server 2.9.10 also places a new R1 (ephemeral) consumer on any of its stream's peers, the dead node's too:
 * about one create in three went unanswered in test/cluster-attach, long after the kill. Each such create is bounded
 * at {@link EPHEMERAL_CREATE_TIMEOUT_MS} and, unanswered, made again under a new name (placed anew):
 * {@link createEphemeral} (test/cluster-audit-read).
 *
 * @module
 */

/** JetStream answers that pass on a cluster: no meta leader yet, an account being re-enabled, a request lost. */
const TRANSIENT = /not enabled for account|temporarily unavailable|no responders|timeout|TIMEOUT|error creating store|no suitable peers|insufficient resources|leader/i;

/** True for a JetStream answer that passes on a cluster (see {@link retryTransient}). */
export function isTransient(err: unknown): boolean {
  return TRANSIENT.test((err as Error | undefined)?.message ?? '');
}

/** Pause between two attempts of {@link retryTransient}. */
const RETRY_PAUSE_MS = 250;

/**
 * Run a JetStream step, again while it fails transiently ({@link isTransient}) for at most `timeoutMs`; then, or on
 * any other error, throw the last error.
 */
export async function retryTransient<T>(step: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!isTransient(err) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
  }
}

/** Timeout of one attempt to create a short-lived reader (a create answers in milliseconds when placed on a live node). */
export const EPHEMERAL_CREATE_TIMEOUT_MS = 1_000;

/** How long {@link createEphemeral}'s attempts go on, in all. */
const EPHEMERAL_RETRY_MS = 20_000;

/**
 * Create a short-lived reader (a quarantine read, a retraction's scan, a ledger read): run `create` — which must name
 * its consumer anew at each call, or let the server name it — again while it fails transiently, for at most
 * {@link EPHEMERAL_RETRY_MS}; `create` should make its requests with a timeout of {@link EPHEMERAL_CREATE_TIMEOUT_MS}.
 */
export async function createEphemeral<T>(create: () => Promise<T>): Promise<T> {
  return await retryTransient(create, EPHEMERAL_RETRY_MS);
}
