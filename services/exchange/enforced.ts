import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Policy } from '../sdk/policy/index.ts';

/**
 * What the running exchange says it enforces, in a KV bucket only the administrator can reach: `liaison doctor`
 * compares it with the directory's policy, so an exchange that did not follow `liaison policy apply` is reported.
 */
export const EXCHANGE_STATE_BUCKET = 'LIAISON_EXCHANGE';

/** The record under key `policy`. */
export interface EnforcedPolicy {
  policyHash: string;
  name: string;
  /** When the exchange adopted it (ISO 8601). */
  since: string;
}

/** Record the policy the exchange now enforces. */
export async function recordEnforcedPolicy(nc: NatsConnection, policy: Policy, at = new Date()): Promise<void> {
  const kv = await new Kvm(nc).create(EXCHANGE_STATE_BUCKET, { history: 1 });
  await kv.put('policy', JSON.stringify({ policyHash: policy.hash, name: policy.name, since: at.toISOString() } satisfies EnforcedPolicy));
}

/** The policy the running exchange last recorded, or undefined when it never did (not running, or older). */
export async function readEnforcedPolicy(nc: NatsConnection): Promise<EnforcedPolicy | undefined> {
  const kv = await new Kvm(nc).open(EXCHANGE_STATE_BUCKET).catch(() => undefined);
  const e = await kv?.get('policy').catch(() => null);
  if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
  try {
    const r = JSON.parse(e.string()) as Partial<EnforcedPolicy>;
    return typeof r.policyHash === 'string' && typeof r.since === 'string' ? { policyHash: r.policyHash, name: String(r.name ?? '?'), since: r.since } : undefined;
  } catch {
    return undefined;
  }
}
