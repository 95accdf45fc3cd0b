import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileConsumers, compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';

/** What provisioning did. */
export interface ProvisionReport {
  streams: string[];
  consumers: string[];
  removedConsumers: string[];
}

const nanos = (ms: number) => ms * 1_000_000;

/**
 * Reconcile JetStream with the policy, as the exchange administrator: one stream per family (tier
 * subjects listed explicitly, retention from the policy) plus quarantine, and the durable pull
 * consumers of every agency (filters compiled from the policy). Consumers the policy no longer
 * grants are deleted. Idempotent.
 */
export async function provisionExchange(nc: NatsConnection, policy: Policy, catalog: TypeCatalog, logger?: Logger): Promise<ProvisionReport> {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'JetStream is not available to the exchange account');
  }
  const report: ProvisionReport = { streams: [], consumers: [], removedConsumers: [] };
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
  const wanted = compileConsumers(policy, catalog);
  const byStream = new Map<string, Set<string>>();
  for (const c of wanted) {
    const cfg = {
      durable_name: c.name,
      filter_subject: c.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(30_000),
      max_deliver: 20,
      max_ack_pending: 10_000,
    };
    const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
    if (info && info.config.filter_subject !== c.filterSubject) await jsm.consumers.delete(c.stream, c.name);
    if (!info || info.config.filter_subject !== c.filterSubject) await jsm.consumers.add(c.stream, cfg);
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
  logger?.info({ streams: report.streams.length, consumers: report.consumers.length, removed: report.removedConsumers.length }, 'exchange provisioned');
  return report;
}
