import { type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileBuckets, compileConsumers, compileStreams, type BucketSpec, type Policy, type StreamSpec, type TypeCatalog } from '../sdk/policy/index.ts';
import { Kvm } from '@nats-io/kv';
import { provisionBucket } from './buckets.ts';
import { EXCHANGE_STATE_BUCKET } from './enforced.ts';
import { jetStreamWhenReady } from './jetstream-ready.ts';
import { reconcileConsumers } from './provision-consumers.ts';
import { exchangeReplicas, replicateStreams, retryTransient } from './replicas.ts';
import { RETRACTIONS_BUCKET } from './retract-service.ts';
import { LEDGER_STREAM } from '../audit/entry.ts';
import { consumerKey, readProvisionedConsumers, recordProvisionedConsumers } from './provisioned-record.ts';

/** What provisioning did. */
export interface ProvisionReport {
  streams: string[];
  consumers: string[];
  removedConsumers: string[];
  /** Consumers created or changed by this run (those already as the policy wants them are not touched). */
  changedConsumers?: string[];
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

/** Every stream of the exchange account, by name (one listing; KV buckets and object stores are streams too). The full reconcile only. */
async function listStreams(jsm: JetStreamManager): Promise<Map<string, StreamInfo>> {
  const out = new Map<string, StreamInfo>();
  for await (const si of jsm.streams.list()) out.set(si.config.name, si);
  return out;
}

/** True when JetStream's stream is the one the policy compiles (subjects, retention, dedupe window, replicas). */
export function streamUpToDate(info: StreamInfo | undefined, cfg: Partial<StreamConfig> & { name: string }): boolean {
  if (!info) return false;
  const have = [...(info.config.subjects ?? [])].sort();
  const want = [...(cfg.subjects ?? [])].sort();
  return (
    have.length === want.length &&
    have.every((x, i) => x === want[i]) &&
    info.config.max_age === cfg.max_age &&
    info.config.duplicate_window === cfg.duplicate_window &&
    info.config.num_replicas === cfg.num_replicas
  );
}

/** True when a bucket's stream exists as provisioning leaves it (direct get; a KV bucket's max age). */
export function bucketUpToDate(info: StreamInfo | undefined, b: BucketSpec): boolean {
  if (!info || info.config.allow_direct !== true) return false;
  return !(b.kind === 'kv' && b.maxAgeMs) || info.config.max_age === nanos(b.maxAgeMs);
}

/** The JetStream config of a compiled stream at `replicas` copies. */
export function streamConfig(s: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return { name: s.name, subjects: s.subjects, max_age: nanos(s.maxAgeMs), duplicate_window: nanos(s.duplicateWindowMs), num_replicas: replicas };
}

/** The stream holding a policy bucket (`KV_<bucket>` or `OBJ_<bucket>`). */
export function bucketStream(b: BucketSpec): string {
  return b.kind === 'kv' ? `KV_${b.bucket}` : `OBJ_${b.bucket}`;
}

/** The exchange's own KV buckets (the enforced policy and the provisioned-consumer record; the retraction records), made by provisioning at the replica count. */
export const EXCHANGE_BUCKETS: readonly string[] = [EXCHANGE_STATE_BUCKET, RETRACTIONS_BUCKET];

/**
 * Every stream the exchange account holds for `policy`, by name: the policy's streams, its buckets' streams, the
 * exchange's own buckets and the audit ledger. What the replica check looks at (no listing: see provision-named.ts).
 */
export function exchangeStreamNames(policy: Policy, catalog: TypeCatalog): string[] {
  return [...compileStreams(policy, catalog).map((s) => s.name), ...compileBuckets(policy, catalog).map(bucketStream), ...EXCHANGE_BUCKETS.map((b) => `KV_${b}`), LEDGER_STREAM];
}

/** Create a compiled stream, or update it when it exists, through transient answers. */
export async function putStream(jsm: JetStreamManager, s: StreamSpec, replicas: number): Promise<void> {
  const cfg = streamConfig(s, replicas);
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
}

/** Create the policy's streams, or update those that differ from it. */
async function provisionStreams(jsm: JetStreamManager, policy: Policy, catalog: TypeCatalog, existing: Map<string, StreamInfo>, replicas: number): Promise<string[]> {
  const names: string[] = [];
  for (const s of compileStreams(policy, catalog)) {
    names.push(s.name);
    if (!streamUpToDate(existing.get(s.name), streamConfig(s, replicas))) await putStream(jsm, s, replicas);
  }
  return names;
}

/**
 * The FULL reconcile of JetStream with the policy, as the exchange administrator: one stream per family (tier
 * subjects listed explicitly, retention from the policy) plus quarantine, and the durable pull
 * consumers of every agency (filters compiled from the policy). Every durable consumer of the policy's streams that
 * the policy does not grant (or that belongs to a revoked agency) is deleted — strays made by hand included, except a
 * bridge's export consumers. Every stream, KV bucket and object store is kept at the
 * exchange's replica count (`o.replicas`, else learnt from its streams). Idempotent; records the consumers it
 * provisioned (provisioned-record.ts).
 *
 * It LISTS the account's streams and every stream's consumers, which on a cluster with a node down waits ≈ 4 s per
 * listing: only for finding strays (`liaison exchange reconcile`, full-reconcile.ts; `reprovision({ full: true })`; an
 * exchange provisioned before the record existed).
 * Attaching, reprovisioning and re-applying a policy provision by name ({@link provisionByName} in provision-named.ts).
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
  // A cluster that just lost a node answers once the client moved and the survivors elected leaders.
  const jsm = await jetStreamWhenReady(nc);
  const existing = await retryTransient(() => listStreams(jsm));
  const replicas = o.replicas === undefined ? Math.max(1, ...[...existing.values()].map((si) => si.config.num_replicas ?? 1)) : await exchangeReplicas(jsm, o.replicas);
  const report: ProvisionReport = { streams: [], consumers: [], removedConsumers: [], buckets: [], replicas };
  report.streams = await provisionStreams(jsm, policy, catalog, existing, replicas);
  await provisionExchangeBuckets(nc, replicas, existing);
  const wanted = compileConsumers(policy, catalog).filter((c) => !revoked.has(c.agency));
  const wantedKeys = wanted.map(consumerKey);
  await recordProvisionedConsumers(nc, [...((await readProvisionedConsumers(nc)) ?? []), ...wantedKeys]);
  const consumers = await reconcileConsumers(jsm, report.streams, wanted, replicas);
  await recordProvisionedConsumers(nc, wantedKeys);
  report.consumers = wanted.map((c) => c.name);
  report.removedConsumers = consumers.removed;
  report.changedConsumers = consumers.changed;
  for (const b of compileBuckets(policy, catalog)) {
    if (!bucketUpToDate(existing.get(bucketStream(b)), b)) await retryTransient(() => provisionBucket(nc, b, replicas));
    report.buckets.push(`${b.kind}:${b.bucket}`);
  }
  await replicateStreams(jsm, replicas, [...new Set([...existing.keys(), ...exchangeStreamNames(policy, catalog)])]);
  logger?.info(
    { replicas, buckets: report.buckets.length, streams: report.streams.length, consumers: report.consumers.length, changed: consumers.changed.length, removed: report.removedConsumers.length },
    'exchange provisioned',
  );
  return report;
}

/**
 * The exchange's own buckets (the enforced policy, the retraction records), made here at the replica count: the
 * services that use them later open what exists.
 */
async function provisionExchangeBuckets(nc: NatsConnection, replicas: number, existing: Map<string, StreamInfo>): Promise<void> {
  const kvm = new Kvm(nc);
  for (const bucket of EXCHANGE_BUCKETS) {
    if (existing.has(`KV_${bucket}`)) continue;
    try {
      await retryTransient(() => kvm.create(bucket, { history: 1, replicas }));
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot provision the exchange's KV bucket ${bucket}`);
    }
  }
}
