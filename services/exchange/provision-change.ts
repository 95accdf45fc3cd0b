/**
 * Provisioning for a policy change (`policy apply`): only the streams, consumers and buckets that differ between the
 * policy JetStream was provisioned for and the new one are touched, each addressed by name — nothing is listed. On a
 * cluster with a node down, nats-server 2.9 answers every stream or consumer listing only after waiting ≈ 4 s for the
 * dead node (a full reconcile of 13 streams spent over a minute listing), while a request to one stream or consumer goes
 * to its leader (re-elected within seconds when it was on the dead node).
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../sdk/logging.ts';
import { compileBuckets, compileConsumers, compileStreams, type BucketSpec, type ConsumerSpec, type Policy, type StreamSpec, type TypeCatalog } from '../sdk/policy/index.ts';
import { provisionBucket } from './buckets.ts';
import { putStream, type ProvisionReport } from './provision.ts';
import { CLUSTER_CONSUMER_CONCURRENCY, SINGLE_CONSUMER_CONCURRENCY, inParallel, reconcileOne, removeOne } from './provision-consumers.ts';
import { jetStreamWhenReady } from './jetstream-ready.ts';
import { exchangeReplicas, retryTransient } from './replicas.ts';
import { consumerKey, readProvisionedConsumers, recordProvisionedConsumers } from './provisioned-record.ts';

/** A policy and the agencies revoked under it (they keep no consumers). */
export interface ProvisionedState {
  policy: Policy;
  revoked: ReadonlySet<string>;
}

/** What differs between two provisioned states: specs to create or change, consumers to delete. */
export interface ProvisionDiff {
  streams: StreamSpec[];
  consumers: ConsumerSpec[];
  removedConsumers: ConsumerSpec[];
  buckets: BucketSpec[];
}

/** Timeout of each JetStream request of a change (retried on timeouts: see {@link provisionPolicyChange}). */
const CHANGE_REQUEST_TIMEOUT_MS = 2_000;

const keyOf = (c: { stream: string; name: string }) => `${c.stream}/${c.name}`;
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The streams, consumers and buckets of `to` that are new or changed since `from`, and the consumers `to` drops. */
export function provisionDiff(from: ProvisionedState, to: ProvisionedState, catalog: TypeCatalog): ProvisionDiff {
  const before = new Map(compileStreams(from.policy, catalog).map((s) => [s.name, s]));
  const streams = compileStreams(to.policy, catalog).filter((s) => !sameJson(before.get(s.name), s));
  const granted = (st: ProvisionedState) => new Map(compileConsumers(st.policy, catalog).filter((c) => !st.revoked.has(c.agency)).map((c) => [keyOf(c), c]));
  const had = granted(from);
  const wants = granted(to);
  const differs = (a: ConsumerSpec | undefined, b: ConsumerSpec) => !a || a.filterSubject !== b.filterSubject || a.maxAckPending !== b.maxAckPending || a.ackWaitMs !== b.ackWaitMs;
  const consumers = [...wants.values()].filter((c) => differs(had.get(keyOf(c)), c));
  const removedConsumers = [...had.values()].filter((c) => !wants.has(keyOf(c)));
  const bucketsBefore = new Map(compileBuckets(from.policy, catalog).map((b) => [`${b.kind}:${b.bucket}`, b]));
  const buckets = compileBuckets(to.policy, catalog).filter((b) => !sameJson(bucketsBefore.get(`${b.kind}:${b.bucket}`), b));
  return { streams, consumers, removedConsumers, buckets };
}

/**
 * Provision the change from `from` to `to`, as the exchange administrator: new or changed streams created or
 * updated, consumers created, re-created or updated, consumers `to` no longer grants (or whose agency it revokes)
 * deleted, new buckets made — each through transient answers. The report lists every stream, consumer and bucket of
 * `to`, and the consumers changed and removed.
 */
export async function provisionPolicyChange(nc: NatsConnection, from: ProvisionedState, to: ProvisionedState, catalog: TypeCatalog, logger?: Logger, o: { replicas?: number } = {}): Promise<ProvisionReport> {
  const diff = provisionDiff(from, to, catalog);
  // After a node's death: first JetStream answering again (short probes), then the changes — each request bounded at
  // 2 s and retried (every step looks before it acts), so one lost with a leader that died is sent again soon.
  const jsm = await jetStreamWhenReady(nc, 60_000, CHANGE_REQUEST_TIMEOUT_MS);
  const report: ProvisionReport = {
    streams: compileStreams(to.policy, catalog).map((s) => s.name),
    consumers: compileConsumers(to.policy, catalog).filter((c) => !to.revoked.has(c.agency)).map((c) => c.name),
    removedConsumers: [],
    changedConsumers: diff.consumers.map((c) => c.name),
    buckets: compileBuckets(to.policy, catalog).map((b) => `${b.kind}:${b.bucket}`),
  };
  // The replica count matters only for what is made anew: read from one existing stream (its leader answers), not a listing.
  if (diff.streams.length > 0 || diff.buckets.length > 0) report.replicas = o.replicas ?? (await replicasOfExchange(jsm, from.policy, catalog));
  const replicas = report.replicas ?? o.replicas ?? 1;
  for (const s of diff.streams) await putStream(jsm, s, replicas);
  // The exchange's record of its consumers (provisioned-record.ts) learns the new ones before they are made.
  const recorded = await readProvisionedConsumers(nc);
  if (recorded && diff.consumers.some((c) => !recorded.has(consumerKey(c)))) await recordProvisionedConsumers(nc, [...recorded, ...diff.consumers.map(consumerKey)]);
  await inParallel(diff.consumers, replicas > 1 ? CLUSTER_CONSUMER_CONCURRENCY : SINGLE_CONSUMER_CONCURRENCY, async (c) => void (await reconcileOne(jsm, c)));
  // Listed whether deleted now or found gone (a delete answered after its request timed out, retried).
  await inParallel(diff.removedConsumers, SINGLE_CONSUMER_CONCURRENCY, async (c) => {
    await removeOne(jsm, c.stream, c.name);
    report.removedConsumers.push(c.name);
  });
  if (recorded && diff.removedConsumers.length > 0) {
    const gone = new Set(diff.removedConsumers.map(consumerKey));
    await recordProvisionedConsumers(nc, [...recorded, ...diff.consumers.map(consumerKey)].filter((k) => !gone.has(k)));
  }
  for (const b of diff.buckets) await retryTransient(() => provisionBucket(nc, b, replicas));
  logger?.info({ streams: diff.streams.length, consumers: diff.consumers.length, removed: report.removedConsumers.length, buckets: diff.buckets.length }, 'policy change provisioned');
  return report;
}

/** The replica count of the exchange's streams, from one stream the previous policy provisioned. */
async function replicasOfExchange(jsm: JetStreamManager, policy: Policy, catalog: TypeCatalog): Promise<number> {
  const first = compileStreams(policy, catalog)[0];
  return await retryTransient(() => exchangeReplicas(jsm, undefined, first?.name));
}
