import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { HANDLED_BUCKET, handledMaxAgeMs } from '../sdk/policy/compile.ts';
import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { bucketName } from '../sdk/subjects.ts';
import { openFederation } from '../trust/index.ts';
import { appliedBridges, type AppliedBridge } from './applied.ts';

/**
 * The handled record across an agreement's `outage` allowance (issue 17): a receiver accepts a bridged copy stored up
 * to the allowance (plus the clock skew) after it was signed, past JetStream's duplicate window, so only the agency's
 * record of handled messages recognises an envelope a bridge re-publishes within it — possibly read a whole retention
 * later. The policy keeps that record the longest retention + the largest edge allowance + a day
 * (`handledMaxAgeMs`); with applied agreements it is kept the largest `outage` longer too. Policy provisioning sets it
 * back to the policy's value, so `bridge apply`, the refresh after a `policy apply` (refresh.ts) and the exchange after
 * its own provisioning (at start, on a reprovision) raise it again.
 *
 * @module
 */

/** How long the agencies' handled records must be kept with these agreements applied. */
export function bridgedHandledMaxAgeMs(policy: Policy, bridges: readonly AppliedBridge[]): number {
  return handledMaxAgeMs(policy) + Math.max(0, ...bridges.map((b) => b.agreement.outageMs ?? 0));
}

/** Raise every agency's handled bucket that keeps its records less long than {@link bridgedHandledMaxAgeMs}; returns the buckets raised. */
export async function keepHandledAcrossOutages(admin: NatsConnection, policy: Policy, bridges: readonly AppliedBridge[]): Promise<string[]> {
  const want = bridgedHandledMaxAgeMs(policy, bridges) * 1_000_000;
  if (want === handledMaxAgeMs(policy) * 1_000_000) return [];
  const jsm = await jetstreamManager(admin);
  const raised: string[] = [];
  for (const id of Object.keys(policy.agencies).sort()) {
    const stream = `KV_${bucketName(id, HANDLED_BUCKET)}`;
    const info = await jsm.streams.info(stream).catch(() => undefined);
    if (!info || info.config.max_age >= want) continue;
    await jsm.streams.update(stream, { max_age: want });
    raised.push(stream);
  }
  return raised;
}

/**
 * {@link keepHandledAcrossOutages} for the agreements applied in `trustDir` now (verified again): what the exchange
 * runs after provisioning the policy at start and on a reprovision, which set the handled records back.
 */
export async function keepHandledForApplied(admin: NatsConnection, trustDir: string, policy: Policy, catalog: TypeCatalog): Promise<string[]> {
  const fed = await openFederation(trustDir);
  const bridges = await appliedBridges(trustDir, { federation: fed.name, root: fed.root.publicJwk }, policy, catalog);
  return bridges.length > 0 ? await keepHandledAcrossOutages(admin, policy, bridges) : [];
}
