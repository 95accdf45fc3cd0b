/**
 * The durable pull consumers of a provisioning run: what JetStream holds is listed once per stream, and only the
 * consumers that differ from the policy's (missing, another filter, another window or ack wait) are touched; durable
 * consumers the policy no longer grants are deleted. A policy apply that changes two agencies' rights thus makes a few
 * JetStream requests, not one per consumer of the federation (hundreds, each an R3 RAFT group on a cluster).
 */
import { AckPolicy, DeliverPolicy, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import type { ConsumerSpec } from '../sdk/policy/index.ts';
import { retryTransient } from './replicas.ts';

/** Consumers created or updated at once on a cluster, and on a single server. */
export const CLUSTER_CONSUMER_CONCURRENCY = 16;
export const SINGLE_CONSUMER_CONCURRENCY = 8;
/**
 * How long one consumer's reconcile goes on through transient answers. After a node's death every consumer whose RAFT
 * group it led elects a new leader; with hundreds of R3 consumers on a loaded machine that took over 30 s (CI).
 */
const CONSUMER_RETRY_MS = 90_000;

const nanos = (ms: number) => ms * 1_000_000;

/** What {@link reconcileConsumers} did. */
export interface ConsumerReconcile {
  /** Consumers created or changed (those already as the policy wants them are not touched). */
  changed: string[];
  /** Durable consumers deleted: the policy no longer grants them. */
  removed: string[];
}

/** Run `step` over `items`, at most `limit` at a time; the first failure is thrown once the running ones end. */
export async function inParallel<T>(items: readonly T[], limit: number, step: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await step(items[next++]!);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** True when JetStream's consumer is the one the policy compiles (filter, in-flight window, ack wait). */
export function consumerUpToDate(info: ConsumerInfo | undefined, c: ConsumerSpec): boolean {
  return info !== undefined && info.config.filter_subject === c.filterSubject && info.config.max_ack_pending === c.maxAckPending && info.config.ack_wait === nanos(c.ackWaitMs);
}

/** The consumers of `stream` (durable and ephemeral), by name: a LISTING (≈ 4 s per stream on a cluster with a node down), for the full reconcile only. */
async function listConsumers(jsm: JetStreamManager, stream: string): Promise<Map<string, ConsumerInfo>> {
  return await retryTransient(async () => {
    const out = new Map<string, ConsumerInfo>();
    for await (const ci of jsm.consumers.list(stream)) out.set(ci.name, ci);
    return out;
  });
}

/**
 * Create, re-create (another filter) or update (window, ack wait) one consumer, asked for by name, through transient
 * answers. True when it was created or changed, false when it already was as the policy compiles it.
 */
export async function reconcileOne(jsm: JetStreamManager, c: ConsumerSpec): Promise<boolean> {
  const cfg = {
    durable_name: c.name,
    filter_subject: c.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: 20,
    max_ack_pending: c.maxAckPending,
  };
  return await retryTransient(async () => {
    // Looked up by name (after a full reconcile's listing too: it may be stale or, on a cluster mid-election, incomplete).
    const info = await jsm.consumers.info(c.stream, c.name).catch((err: unknown) => {
      if (/consumer not found/i.test((err as Error).message)) return undefined;
      throw err;
    });
    if (consumerUpToDate(info, c)) return false;
    const same = info && info.config.filter_subject === c.filterSubject;
    if (info && !same) await jsm.consumers.delete(c.stream, c.name);
    if (!same) await jsm.consumers.add(c.stream, cfg);
    else await jsm.consumers.update(c.stream, c.name, { max_ack_pending: c.maxAckPending, ack_wait: nanos(c.ackWaitMs) });
    return true;
  }, CONSUMER_RETRY_MS);
}

/** Delete a durable consumer the policy no longer grants; false when it was already gone. */
export async function removeOne(jsm: JetStreamManager, stream: string, name: string): Promise<boolean> {
  return await retryTransient(() =>
    jsm.consumers.delete(stream, name).then(
      () => true,
      (err: unknown) => {
        if (/consumer not found/i.test((err as Error).message)) return false;
        throw err;
      },
    ),
  );
}

/**
 * Whether the full reconcile deletes `ci` when the policy does not grant it: a durable consumer, not a bridge's export
 * consumer (`bridge_…`, no agency id holds '_': `liaison bridge apply|revoke`'s own). Ephemeral consumers (the
 * services' and the audit's ordered readers) are left alone. `liaison doctor` reports as strays exactly these.
 */
export function fullReconcileOwns(ci: ConsumerInfo): boolean {
  return Boolean(ci.config.durable_name) && !ci.name.startsWith('bridge_');
}

/**
 * The full reconcile's consumers (provision.ts): make the durable consumers of `streams` those of `wanted`: list each stream's consumers once, reconcile only the
 * missing or different ones (several at once: on a cluster each is a RAFT group of its own, created in about half a
 * second), delete durable consumers not wanted. Ephemeral consumers (the services' ordered ones) are left alone.
 */
export async function reconcileConsumers(jsm: JetStreamManager, streams: readonly string[], wanted: readonly ConsumerSpec[], replicas: number): Promise<ConsumerReconcile> {
  const existing = new Map<string, Map<string, ConsumerInfo>>();
  for (const s of streams) existing.set(s, await listConsumers(jsm, s));
  const stale = wanted.filter((c) => !consumerUpToDate(existing.get(c.stream)?.get(c.name), c));
  await inParallel(stale, replicas > 1 ? CLUSTER_CONSUMER_CONCURRENCY : SINGLE_CONSUMER_CONCURRENCY, async (c) => void (await reconcileOne(jsm, c)));
  const keep = new Set(wanted.map((c) => `${c.stream}/${c.name}`));
  const unwanted: [string, string][] = [];
  for (const [stream, consumers] of existing) {
    for (const ci of consumers.values()) if (fullReconcileOwns(ci) && !keep.has(`${stream}/${ci.name}`)) unwanted.push([stream, ci.name]);
  }
  const removed: string[] = [];
  await inParallel(unwanted, SINGLE_CONSUMER_CONCURRENCY, async ([stream, name]) => {
    if (await removeOne(jsm, stream, name)) removed.push(name);
  });
  return { changed: stale.map((c) => c.name), removed };
}
