/**
 * Creating the exchange services' short-lived readers (a quarantine read, a retraction's scan) through a cluster
 * node's death. nats-server 2.9.10 places a new R1 (ephemeral) consumer on any of its stream's peers, the dead node's
 * too: about one create in three went unanswered in test/cluster-attach, long after the kill, and the request it served
 * failed after nats.js's 5 s timeout. Each attempt is bounded at {@link EPHEMERAL_CREATE_TIMEOUT_MS} and, unanswered,
 * made again under a new name (placed anew). The audit ledger's reader (readLedger: `liaison audit verify`, `audit
 * query`) is made the same way (test/cluster-audit-read).
 *
 * @module
 */
import { retryTransient } from './replicas.ts';

/** Timeout of one attempt to create a short-lived reader (a create answers in milliseconds when placed on a live node). */
export const EPHEMERAL_CREATE_TIMEOUT_MS = 1_000;

/** How long the attempts go on, in all. */
const EPHEMERAL_RETRY_MS = 20_000;

/**
 * Run `create` (which must name its consumer anew at each call, or let the server name it), again while it fails
 * transiently, for at most {@link EPHEMERAL_RETRY_MS}; `create` should make its requests with a timeout of
 * {@link EPHEMERAL_CREATE_TIMEOUT_MS}.
 */
export async function createEphemeral<T>(create: () => Promise<T>): Promise<T> {
  return await retryTransient(create, EPHEMERAL_RETRY_MS);
}
