import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileBuckets, compileConsumers, compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { provisionBucket } from './buckets.ts';

/** What provisioning did. */
export interface ProvisionReport {
  streams: string[];
  consumers: string[];
  removedConsumers: string[];
  /** `kv:<bucket>` and `objects:<bucket>`. */
  buckets: string[];
}

const nanos = (ms: number) => ms * 1_000_000;

/**
 * Reconcile JetStream with the policy, as the exchange administrator: one stream per family (tier
 * subjects listed explicitly, retention from the policy) plus quarantine, and the durable pull
 * consumers of every agency (filters compiled from the policy). Consumers the policy no longer
 * grants (or that belong to a revoked agency) are deleted. Idempotent.
 */
export async function provisionExchange(
  nc: NatsConnection,
  policy: Policy,
  catalog: TypeCatalog,
  logger?: Logger,
  /** Agencies that keep no consumers (revoked ones): theirs are deleted. */
  revoked: ReadonlySet<string> = new Set(),
): Promise<ProvisionReport> {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'JetStream is not available to the exchange account');
  }
  const report: ProvisionReport = { streams: [], consumers: [], removedConsumers: [], buckets: [] };
  for (const s of compileStreams(policy, catalog)) {
    const cfg: Partial<StreamConfig> & { name: string } = {
      name: s.name,
      subjects: s.subjects,
      max_age: nanos(s.maxAgeMs),
      duplicate_window: nanos(s.duplicateWindowMs),
    };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, cfg);
    } catch {
      await jsm.streams.add(cfg);
    }
    report.streams.push(s.name);
  }
  const wanted = compileConsumers(policy, catalog).filter((c) => !revoked.has(c.agency));
  const byStream = new Map<string, Set<string>>();
  for (const c of wanted) {
    const cfg = {
      durable_name: c.name,
      filter_subject: c.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(c.ackWaitMs),
      max_deliver: 20,
      max_ack_pending: c.maxAckPending,
    };
    const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
    const same = info && info.config.filter_subject === c.filterSubject;
    if (info && !same) await jsm.consumers.delete(c.stream, c.name);
    if (!same) await jsm.consumers.add(c.stream, cfg);
    else if (info.config.max_ack_pending !== c.maxAckPending || info.config.ack_wait !== nanos(c.ackWaitMs)) {
      await jsm.consumers.update(c.stream, c.name, { max_ack_pending: c.maxAckPending, ack_wait: nanos(c.ackWaitMs) });
    }
    report.consumers.push(c.name);
    if (!byStream.has(c.stream)) byStream.set(c.stream, new Set());
    byStream.get(c.stream)!.add(c.name);
  }
  for (const s of compileStreams(policy, catalog)) {
    const keep = byStream.get(s.name) ?? new Set<string>();
    for await (const ci of jsm.consumers.list(s.name)) {
      if (!keep.has(ci.name)) {
        await jsm.consumers.delete(s.name, ci.name);
        report.removedConsumers.push(ci.name);
      }
    }
  }
  for (const b of compileBuckets(policy, catalog)) {
    await provisionBucket(nc, b);
    report.buckets.push(`${b.kind}:${b.bucket}`);
  }
  logger?.info({ buckets: report.buckets.length, streams: report.streams.length, consumers: report.consumers.length, removed: report.removedConsumers.length }, 'exchange provisioned');
  return report;
}
