/**
 * Provisioning by name: what the exchange runs at start (attach), on a reprovision and when the unchanged policy is
 * applied again. Every stream, durable consumer and bucket the policy compiles is asked for by name (an info request,
 * several at once) and created or updated only when missing or different; the consumers to delete are named too —
 * those the policy compiles for revoked agencies, and those the exchange recorded as provisioned
 * (provisioned-record.ts) that the policy no longer grants. Nothing is listed: on a cluster with a node down,
 * nats-server 2.9 answers a consumer listing of a stream only after waiting ≈ 4 s for the consumers the dead node
 * hosted (the audit's and the services' R1 readers), and a stream listing the same for an R1 stream there — a full
 * reconcile of the example policy's streams spent 45 s listing — while a request naming one stream or durable (R3)
 * consumer is answered by its leader at once.
 *
 * Strays — durable consumers nothing in Liaison made (by hand), or an older exchange made without recording them — are
 * found only by a listing: {@link provisionExchange} (the full reconcile, `liaison exchange reconcile`) and `liaison
 * doctor` list.
 *
 * @module
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileBuckets, compileConsumers, compileStreams, type BucketSpec, type Policy, type StreamSpec, type TypeCatalog } from '../sdk/policy/index.ts';
import { provisionBucket } from './buckets.ts';
import { jetStreamWhenReady } from './jetstream-ready.ts';
import { bucketStream, bucketUpToDate, EXCHANGE_BUCKETS, exchangeStreamNames, provisionExchange, putStream, streamConfig, streamUpToDate, type ProvisionOptions, type ProvisionReport } from './provision.ts';
import { CLUSTER_CONSUMER_CONCURRENCY, SINGLE_CONSUMER_CONCURRENCY, inParallel, reconcileOne, removeOne } from './provision-consumers.ts';
import { consumerKey, readProvisionedConsumers, recordProvisionedConsumers } from './provisioned-record.ts';
import { exchangeReplicas, replicateStreams, retryTransient, streamInfoOrUndefined } from './replicas.ts';

/** Streams and buckets asked for at once. */
const STREAM_CONCURRENCY = 8;
/** Timeout of each JetStream request (retried on timeouts: a request lost with a dead node is sent again soon). */
const NAMED_REQUEST_TIMEOUT_MS = 2_000;

/** Create a compiled stream, or update it, unless it exists as the policy compiles it. */
async function ensureStream(jsm: JetStreamManager, s: StreamSpec, replicas: number): Promise<void> {
  const info = await retryTransient(() => streamInfoOrUndefined(jsm, s.name));
  if (!streamUpToDate(info, streamConfig(s, replicas))) await putStream(jsm, s, replicas);
}

/** Create (or fix) a policy bucket unless its stream exists as provisioning leaves it. */
async function ensureBucket(nc: NatsConnection, jsm: JetStreamManager, b: BucketSpec, replicas: number): Promise<void> {
  const info = await retryTransient(() => streamInfoOrUndefined(jsm, bucketStream(b)));
  if (!bucketUpToDate(info, b)) await retryTransient(() => provisionBucket(nc, b, replicas));
}

/** The exchange's own buckets (the enforced policy, the retraction records, the consumer record), when missing. */
async function ensureExchangeBuckets(nc: NatsConnection, jsm: JetStreamManager, replicas: number): Promise<void> {
  const kvm = new Kvm(nc);
  for (const bucket of EXCHANGE_BUCKETS) {
    if (await retryTransient(() => streamInfoOrUndefined(jsm, `KV_${bucket}`))) continue;
    try {
      await retryTransient(() => kvm.create(bucket, { history: 1, replicas }));
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot provision the exchange's KV bucket ${bucket}`);
    }
  }
}

/**
 * Reconcile JetStream with `policy` by name (see the module's note): the policy's streams, the durable consumers of
 * every agency not `revoked`, its buckets and the exchange's own, each created or changed only when missing or
 * different; consumers of revoked agencies and recorded consumers the policy no longer grants deleted; every stream of
 * the exchange raised to the replica count. Idempotent. An exchange that never recorded its consumers (provisioned by
 * an older Liaison) but has the policy's streams gets one full reconcile ({@link provisionExchange}, which lists and
 * records) instead.
 */
export async function provisionByName(
  nc: NatsConnection,
  policy: Policy,
  catalog: TypeCatalog,
  logger?: Logger,
  revoked: ReadonlySet<string> = new Set(),
  o: ProvisionOptions = {},
): Promise<ProvisionReport> {
  // A cluster that just lost a node answers once the client moved and the survivors elected leaders.
  const jsm = await jetStreamWhenReady(nc, 60_000, NAMED_REQUEST_TIMEOUT_MS);
  const streams = compileStreams(policy, catalog);
  const replicas = await retryTransient(() => exchangeReplicas(jsm, o.replicas, streams[0]?.name));
  const recorded = await readProvisionedConsumers(nc);
  if (recorded === undefined && streams[0] && (await retryTransient(() => streamInfoOrUndefined(jsm, streams[0]!.name)))) {
    logger?.info('the exchange has no record of its consumers: one full reconcile (listing every stream)');
    return await provisionExchange(nc, policy, catalog, logger, revoked, { replicas });
  }
  await inParallel(streams, STREAM_CONCURRENCY, (s) => ensureStream(jsm, s, replicas));
  await ensureExchangeBuckets(nc, jsm, replicas);
  const compiled = compileConsumers(policy, catalog);
  const wanted = compiled.filter((c) => !revoked.has(c.agency));
  const wantedKeys = new Set(wanted.map(consumerKey));
  // Recorded before they are made: a provisioning stopped half-way leaves nothing the next one does not know of.
  await recordProvisionedConsumers(nc, [...(recorded ?? []), ...wantedKeys]);
  const changed: string[] = [];
  await inParallel(wanted, replicas > 1 ? CLUSTER_CONSUMER_CONCURRENCY : SINGLE_CONSUMER_CONCURRENCY, async (c) => {
    if (await reconcileOne(jsm, c)) changed.push(c.name);
  });
  const unwanted = new Map<string, { stream: string; name: string }>();
  for (const c of compiled) if (revoked.has(c.agency)) unwanted.set(consumerKey(c), c);
  for (const key of recorded ?? []) {
    const slash = key.indexOf('/');
    if (!wantedKeys.has(key) && slash > 0) unwanted.set(key, { stream: key.slice(0, slash), name: key.slice(slash + 1) });
  }
  const removed: string[] = [];
  await inParallel([...unwanted.values()], SINGLE_CONSUMER_CONCURRENCY, async (c) => {
    if (await removeOne(jsm, c.stream, c.name)) removed.push(c.name);
  });
  await recordProvisionedConsumers(nc, wantedKeys);
  const buckets = compileBuckets(policy, catalog);
  await inParallel(buckets, STREAM_CONCURRENCY, (b) => ensureBucket(nc, jsm, b, replicas));
  await replicateStreams(jsm, replicas, exchangeStreamNames(policy, catalog));
  const report: ProvisionReport = {
    streams: streams.map((s) => s.name),
    consumers: wanted.map((c) => c.name),
    removedConsumers: removed.sort(),
    changedConsumers: changed.sort(),
    buckets: buckets.map((b) => `${b.kind}:${b.bucket}`),
    replicas,
  };
  logger?.info({ replicas, streams: streams.length, consumers: wanted.length, changed: changed.length, removed: removed.length, buckets: buckets.length }, 'exchange provisioned (by name)');
  return report;
}
