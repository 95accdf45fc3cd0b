import { jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from '../sdk/logging.ts';
import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { applyAccountUpdate, openFederation, pushFederationAccounts, revokeAgencyUsers } from '../trust/index.ts';
import { appliedBridges, type AppliedBridge } from './applied.ts';
import { issueBridgeUsers, provisionExportConsumers, readBridgeUsers, withAdmin, type ExchangeReach } from './apply.ts';
import { compileBridgeSide, type BridgeSide } from './compile.ts';
import { exportConsumersOf } from './export-consumers.ts';
import { bridgeAccountId } from './paths.ts';
import { keepHandledAcrossOutages } from './handled.ts';

/**
 * Keeping the applied agreements current when the federation's policy changes (issue 17): `liaison policy apply`
 * recompiles each applied agreement's side under the new policy — a recipient's lowered ceiling moves its inbound
 * route to the lower tier, a sender that may no longer send a type loses its outbound route — and brings the broker
 * in line, as `bridge apply` would: new export consumers provisioned and stale ones deleted; when the export or import
 * user's rights changed, both users re-issued (new keys, `.creds` rewritten) and the previous ones revoked in the
 * bridge's account (the server closes their connections; `bridge up` reconnects with the new creds); the agencies'
 * handled records kept the agreements' `outage` longer again (handled.ts).
 *
 * @module
 */

/** What the refresh changed for one applied agreement. */
export interface BridgeRefresh {
  id: string;
  consumersAdded: string[];
  consumersRemoved: string[];
  /** The bridge users were re-issued (their rights changed) and the previous ones revoked. */
  usersReissued: boolean;
  /** Flows the new policy cannot honour (left out, never widened). */
  issues: string[];
}

function rightsOf(side: BridgeSide | undefined): string {
  return JSON.stringify(side ? [side.exportUser, side.importUser] : null);
}

/**
 * Recompile every agreement applied in the trust dir under the policy it now holds (`previous`: the policy before
 * the change, whose compiled side the broker still carries) and apply the difference on the running exchange.
 */
export async function refreshBridges(o: ExchangeReach & { policy: Policy; previous: Policy; catalog: TypeCatalog; logger?: Logger }): Promise<BridgeRefresh[]> {
  const fed = await openFederation(o.trustDir);
  const self = { federation: fed.name, root: fed.root.publicJwk };
  const bridges = await appliedBridges(o.trustDir, self, o.policy, o.catalog, { onIssue: (m) => o.logger?.warn({ issue: m }, 'applied agreement left out') });
  const out: BridgeRefresh[] = [];
  for (const b of bridges) out.push(await refreshOne(o, fed, b));
  // The policy's provisioning set the handled records back to the policy's age: the agreements' outage on top again.
  if (bridges.length > 0) await withAdmin(o, (admin) => keepHandledAcrossOutages(admin, o.policy, bridges));
  return out;
}

async function refreshOne(o: ExchangeReach & { previous: Policy; catalog: TypeCatalog }, fed: Awaited<ReturnType<typeof openFederation>>, b: AppliedBridge): Promise<BridgeRefresh> {
  const before = previousSide(b, fed.name, o.previous, o.catalog);
  const want = exportConsumersOf(b.side);
  const had = before ? exportConsumersOf(before) : [];
  const wanted = new Set(want.map((c) => `${c.stream}/${c.name}`));
  const stale = had.filter((c) => !wanted.has(`${c.stream}/${c.name}`));
  const consumersAdded = want.filter((c) => !had.some((h) => h.stream === c.stream && h.name === c.name)).map((c) => c.name);
  await withAdmin(o, async (admin) => {
    await provisionExportConsumers(admin, want);
    const jsm = await jetstreamManager(admin);
    for (const c of stale) await jsm.consumers.delete(c.stream, c.name).catch(() => false);
  });
  const usersReissued = rightsOf(before) !== rightsOf(b.side);
  if (usersReissued) await reissueBridgeUsers(o, fed, b);
  return { id: b.id, consumersAdded, consumersRemoved: stale.map((c) => c.name), usersReissued, issues: b.side.issues };
}

/** The side the broker carries now (compiled under the previous policy); undefined when that fails (then everything is redone). */
function previousSide(b: AppliedBridge, self: string, previous: Policy, catalog: TypeCatalog): BridgeSide | undefined {
  try {
    return compileBridgeSide(b.agreement, self, previous, catalog);
  } catch {
    return undefined;
  }
}

/** New export and import users with the recompiled rights (account imports pushed first), then the previous ones revoked. */
async function reissueBridgeUsers(o: ExchangeReach, fed: Awaited<ReturnType<typeof openFederation>>, b: AppliedBridge): Promise<void> {
  const previous = await readBridgeUsers(o.trustDir, b.id);
  await issueBridgeUsers(fed, b.agreement, b.side);
  const account = bridgeAccountId(b.id);
  await pushFederationAccounts({ url: o.url, trustDir: o.trustDir, plain: o.plain, agencies: [account] });
  const old = [...previous.export, ...previous.import];
  if (old.length === 0) return;
  const accountJwt = await revokeAgencyUsers(fed, account, old);
  await applyAccountUpdate({ url: o.url, trustDir: o.trustDir, accountJwt, plain: o.plain });
}
