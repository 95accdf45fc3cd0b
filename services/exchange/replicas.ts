/**
 * How many copies JetStream keeps of the exchange's streams, KV buckets and object stores: 1 on a single
 * nats-server, 3 (RAFT, a majority of 2 survives one node's loss) on a cluster of three or more nodes.
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { LiaisonError } from '../sdk/errors.ts';
import { retryTransient } from '../sdk/jetstream-retry.ts';

/** The retry through transient JetStream answers lives in services/sdk/jetstream-retry.ts (shared with the audit). */
export { isTransient, retryTransient } from '../sdk/jetstream-retry.ts';

/** JetStream's largest useful replica count (a RAFT group of 3 or 5; Liaison uses 3). */
export const MAX_REPLICAS = 3;

/** The replica count of an exchange of `nodes` nats-servers: min(nodes, {@link MAX_REPLICAS}). */
export function clusterReplicas(nodes: number): number {
  if (!Number.isInteger(nodes) || nodes < 1) throw new LiaisonError('ERR_USAGE', `a cluster has at least one node, got ${nodes}`, { nodes });
  return Math.min(nodes, MAX_REPLICAS);
}

/**
 * The replica count to provision at: `explicit` when the caller knows the exchange's config (`exchange up`),
 * else what the running exchange's stream `probe` has (one of the policy's streams: `liaison policy apply` learns it
 * there), else 1 (no such stream yet). Asked by name: a listing waits ≈ 4 s for a dead node on a cluster.
 */
export async function exchangeReplicas(jsm: JetStreamManager, explicit?: number, probe?: string): Promise<number> {
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit < 1 || explicit > MAX_REPLICAS) {
      throw new LiaisonError('ERR_USAGE', `replicas must be an integer from 1 to ${MAX_REPLICAS}, got ${explicit}`, { replicas: explicit });
    }
    return explicit;
  }
  if (probe === undefined) return 1;
  const info = await streamInfoOrUndefined(jsm, probe);
  return info?.config.num_replicas ?? 1;
}

/** A stream's info, or undefined when the stream does not exist (other errors thrown). */
export async function streamInfoOrUndefined(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  return await jsm.streams.info(name).catch((err: unknown) => {
    if (/stream not found/i.test((err as Error).message)) return undefined;
    throw err;
  });
}

/** Streams raised at once by {@link replicateStreams}. */
const REPLICATE_CONCURRENCY = 8;

/**
 * Raise each of the streams `names` (the exchange's: every stream the policy compiles, its buckets' and the
 * exchange's own) kept at fewer than `replicas` copies — an exchange that grew from one node into a cluster, streams
 * made by services before provisioning ran. Each asked by name, several at once, through transient answers; a stream
 * that does not exist is skipped. Never lowers a count. Returns the streams raised. A stream of the account that is not
 * named is not looked at: a listing would wait ≈ 4 s for a dead node on a cluster.
 */
export async function replicateStreams(jsm: JetStreamManager, replicas: number, names: readonly string[]): Promise<string[]> {
  const low: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      await retryTransient(async () => {
        const info = await streamInfoOrUndefined(jsm, name);
        if (!info || (info.config.num_replicas ?? 1) >= replicas) return;
        await jsm.streams.update(name, { num_replicas: replicas });
        low.push(name);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPLICATE_CONCURRENCY, names.length) }, worker));
  return low.sort();
}

