/**
 * The full reconcile an operator runs (`liaison exchange reconcile`): JetStream made what the federation's policy
 * compiles, LISTING every stream's consumers so that strays are found — durable consumers nothing in Liaison made (by
 * hand, a left-over) — and deleted. The exchange itself provisions by name (provision-named.ts), which never finds
 * them; `liaison doctor` reports them and names this command. It needs no control plane running: it connects as the
 * exchange administrator, reconciles, and disconnects. On a cluster with a node down each listing waits ≈ 4 s for it.
 *
 * @module
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { keepHandledForApplied } from '../bridge/handled.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { asLiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { listAgencyRecords, readPrivateFile, trustPaths } from '../trust/index.ts';
import { federationPolicy } from './admin.ts';
import { provisionExchange, type ProvisionReport } from './provision.ts';

/** What {@link reconcileExchangeFully} did: the provisioning report, and the policy it reconciled with. */
export interface FullReconcileReport extends ProvisionReport {
  /** The hash of the federation policy (TRUST_DIR/policy.yaml) JetStream was reconciled with. */
  policyHash: string;
}

/** The exchange administrator's connection to `url` (every node of a cluster: one down, another answers). */
async function connectAdministrator(trustDir: string, url: string, plain: boolean): Promise<NatsConnection> {
  try {
    return await connect({
      servers: serverList(url),
      ...(await trustDirTls(trustDir, url, { plain })),
      authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(trustDir).adminCreds))),
      name: 'liaison-exchange-reconcile',
    });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${url} as its administrator`);
  }
}

/**
 * Run the full reconcile ({@link provisionExchange}) against the exchange at `url` with the federation's policy and
 * its revoked agencies (whose consumers go), then keep the applied agreements' handled records (as a reprovision
 * does). Idempotent; the report's `removedConsumers` and `changedConsumers` say what it deleted and made.
 */
export async function reconcileExchangeFully(o: { trustDir: string; url: string; catalog: TypeCatalog; plain?: boolean; logger?: Logger }): Promise<FullReconcileReport> {
  const policy = await federationPolicy(o.trustDir, o.catalog);
  const revoked = new Set((await listAgencyRecords(o.trustDir)).filter((r) => r.revokedAt !== undefined).map((r) => r.id));
  const admin = await connectAdministrator(o.trustDir, o.url, o.plain === true);
  try {
    const report = await provisionExchange(admin, policy, o.catalog, o.logger, revoked);
    await keepHandledForApplied(admin, o.trustDir, policy, o.catalog);
    return { ...report, policyHash: policy.hash };
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', `the full reconcile of the exchange at ${o.url} failed`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}
