import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileBuckets, compileConsumers, compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { Kvm } from '@nats-io/kv';
import { provisionBucket } from './buckets.ts';
import { EXCHANGE_STATE_BUCKET } from './enforced.ts';
import { exchangeReplicas, replicateStreams, retryTransient } from './replicas.ts';
import { RETRACTIONS_BUCKET } from './retract-service.ts';

/** What provisioning did. */
export interface ProvisionReport {
  streams: string[];
  consumers: string[];
  removedConsumers: string[];
  /** `kv:<bucket>` and `objects:<bucket>`. */
  buckets: string[];
  /** Copies JetStream keeps of each stream, bucket and object store (1 single node, 3 in a cluster). */
  replicas?: number;
}

/** Options of {@link provisionExchange}. */
export interface ProvisionOptions {
  /** Replica count (the exchange's config); default: what the running exchange's streams have ({@link exchangeReplicas}). */
  replicas?: number;
}

const nanos = (ms: number) => ms * 1_000_000;

/** Consumers created or updated at once on a cluster, and on a single server. */
const CLUSTER_CONSUMER_CONCURRENCY = 16;
const SINGLE_CONSUMER_CONCURRENCY = 8;
/**
 * How long one consumer's reconcile goes on through transient answers. After a node's death every consumer whose RAFT
 * group it led elects a new leader; with hundreds of R3 consumers on a loaded machine that took over 30 s (CI).
 */
const CONSUMER_RETRY_MS = 90_000;

/** Run `step` over `items`, at most `limit` at a time; the first failure is thrown once the running ones end. */
async function inParallel<T>(items: readonly T[], limit: number, step: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await step(items[next++]!);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Reconcile JetStream with the policy, as the exchange administrator: one stream per family (tier
 * subjects listed explicitly, retention from the policy) plus quarantine, and the durable pull
 * consumers of every agency (filters compiled from the policy). Consumers the policy no longer
 * grants (or that belong to a revoked agency) are deleted. Every stream, KV bucket and object store is kept at the
 * exchange's replica count (`o.replicas`, else learnt from its streams). Idempotent.
 */
export async function provisionExchange(
  nc: NatsConnection,
  policy: Policy,
  catalog: TypeCatalog,
  logger?: Logger,
  /** Agencies that keep no consumers (revoked ones): theirs are deleted. */
  revoked: ReadonlySet<string> = new Set(),
  o: ProvisionOptions = {},
): Promise<ProvisionReport> {
  let jsm: JetStreamManager;
  try {
    // Bounded retries: a cluster that just lost a node answers once its survivors elect leaders.
    jsm = await retryTransient(() => jetstreamManager(nc));
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'JetStream is not available to the exchange account');
  }
  const replicas = await retryTransient(() => exchangeReplicas(jsm, o.replicas));
  const report: ProvisionReport = { streams: [], consumers: [], removedConsumers: [], buckets: [], replicas };
  for (const s of compileStreams(policy, catalog)) {
    const cfg: Partial<StreamConfig> & { name: string } = {
      name: s.name,
      subjects: s.subjects,
      max_age: nanos(s.maxAgeMs),
      duplicate_window: nanos(s.duplicateWindowMs),
      num_replicas: replicas,
    };
    await retryTransient(async () => {
      const exists = await jsm.streams.info(s.name).then(
        () => true,
        (err: unknown) => {
          if (/stream not found/i.test((err as Error).message)) return false;
          throw err;
        },
      );
      if (exists) await jsm.streams.update(s.name, cfg);
      else await jsm.streams.add(cfg);
    });
    report.streams.push(s.name);
  }
  const wanted = compileConsumers(policy, catalog).filter((c) => !revoked.has(c.agency));
  const byStream = new Map<string, Set<string>>();
  const reconcile = async (c: (typeof wanted)[number]) => {
    const cfg = {
      durable_name: c.name,
      filter_subject: c.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(c.ackWaitMs),
      max_deliver: 20,
      max_ack_pending: c.maxAckPending,
    };
    await retryTransient(async () => {
      const info = await jsm.consumers.info(c.stream, c.name).catch((err: unknown) => {
        if (/consumer not found/i.test((err as Error).message)) return undefined;
        throw err;
      });
      const same = info && info.config.filter_subject === c.filterSubject;
      if (info && !same) await jsm.consumers.delete(c.stream, c.name);
      if (!same) await jsm.consumers.add(c.stream, cfg);
      else if (info.config.max_ack_pending !== c.maxAckPending || info.config.ack_wait !== nanos(c.ackWaitMs)) {
        await jsm.consumers.update(c.stream, c.name, { max_ack_pending: c.maxAckPending, ack_wait: nanos(c.ackWaitMs) });
      }
    }, CONSUMER_RETRY_MS);
  };
  // Several at once: on a cluster each durable consumer is a RAFT group of its own, created in about half a second;
  // on one server a policy apply otherwise waits on hundreds of sequential round trips before a new consumer exists.
  await inParallel(wanted, replicas > 1 ? CLUSTER_CONSUMER_CONCURRENCY : SINGLE_CONSUMER_CONCURRENCY, reconcile);
  for (const c of wanted) {
    report.consumers.push(c.name);
    if (!byStream.has(c.stream)) byStream.set(c.stream, new Set());
    byStream.get(c.stream)!.add(c.name);
  }
  for (const s of compileStreams(policy, catalog)) {
    const keep = byStream.get(s.name) ?? new Set<string>();
    await retryTransient(async () => {
      for await (const ci of jsm.consumers.list(s.name)) {
        if (keep.has(ci.name)) continue;
        // An ephemeral consumer (a service's ordered one) may be gone by now: re-created elsewhere after a node died.
        const gone = await jsm.consumers.delete(s.name, ci.name).then(
          () => true,
          (err: unknown) => {
            if (/consumer not found/i.test((err as Error).message)) return false;
            throw err;
          },
        );
        if (gone) report.removedConsumers.push(ci.name);
      }
    });
  }
  for (const b of compileBuckets(policy, catalog)) {
    await retryTransient(() => provisionBucket(nc, b, replicas));
    report.buckets.push(`${b.kind}:${b.bucket}`);
  }
  await provisionExchangeBuckets(nc, replicas);
  await retryTransient(() => replicateStreams(jsm, replicas));
  logger?.info({ replicas, buckets: report.buckets.length, streams: report.streams.length, consumers: report.consumers.length, removed: report.removedConsumers.length }, 'exchange provisioned');
  return report;
}

/**
 * The exchange's own buckets (the enforced policy, the retraction records), made here at the replica count: the
 * services that use them later open what exists.
 */
async function provisionExchangeBuckets(nc: NatsConnection, replicas: number): Promise<void> {
  const kvm = new Kvm(nc);
  for (const bucket of [EXCHANGE_STATE_BUCKET, RETRACTIONS_BUCKET]) {
    try {
      await retryTransient(() => kvm.create(bucket, { history: 1, replicas }));
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot provision the exchange's KV bucket ${bucket}`);
    }
  }
}
