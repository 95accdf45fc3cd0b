import { access, rename } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { LiaisonError } from '../sdk/errors.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { federationPolicy } from '../exchange/admin.ts';
import { applyAccountUpdate, openFederation, pushFederationAccounts, revokeAgencyUsers, writeDirectory } from '../trust/index.ts';
import { readSignedAgreement } from './agreement/file.ts';
import { parseAgreement } from './agreement/load.ts';
import { appliedBridges, bridgedSenders } from './applied.ts';
import { reissueSenders, readBridgeUsers, withAdmin, type ExchangeReach } from './apply.ts';
import { compileBridgeSide } from './compile.ts';
import { exportConsumersOf } from './export-consumers.ts';
import { bridgeAccountId, bridgePaths } from './paths.ts';

/** What `liaison bridge revoke` did. */
export interface BridgeRevokeReport {
  id: string;
  /** Bridge users whose JWTs the account now revokes (the server closes their connections). */
  revokedUsers: string[];
  /** Senders re-issued without the agreement's outbound subjects. */
  senders: string[];
  /** Export consumers deleted. */
  consumers: string[];
}

/**
 * `liaison bridge revoke --trust DIR --agreement ID` (bridge design §7), from either side alone: the agreement
 * leaves the root-signed directory (pushed: clients stop sending and accepting across at once), the bridge users
 * are revoked in their account (the server closes their connections: nothing more crosses), the senders are
 * re-issued without the outbound subjects and the export consumers deleted.
 */
export async function revokeBridge(o: ExchangeReach & { id: string; catalog: TypeCatalog }): Promise<BridgeRevokeReport> {
  const paths = bridgePaths(o.trustDir, o.id);
  const present = await access(paths.agreement).then(
    () => true,
    () => false,
  );
  if (!present) throw new LiaisonError('ERR_USAGE', `no agreement ${o.id} is applied in ${o.trustDir}`, { agreement: o.id });
  const fed = await openFederation(o.trustDir);
  const policy = await federationPolicy(o.trustDir, o.catalog);
  const agreement = parseAgreement((await readSignedAgreement(paths.agreement)).text, paths.agreement, { catalog: o.catalog });
  const side = compileBridgeSide(agreement, fed.name, policy, o.catalog);
  // Out of the directory first: every client stops sending across and refuses bridged copies when it sees it.
  await rename(paths.agreement, paths.revoked);
  await writeDirectory(o.trustDir, { federation: fed });
  await o.pushDirectory?.();
  const users = await readBridgeUsers(o.trustDir, o.id);
  const revokedUsers = [...users.export, ...users.import];
  const account = bridgeAccountId(o.id);
  if (revokedUsers.length > 0) {
    const accountJwt = await revokeAgencyUsers(fed, account, revokedUsers);
    await applyAccountUpdate({ url: o.url, trustDir: o.trustDir, accountJwt, plain: o.plain });
  }
  const remaining = await appliedBridges(o.trustDir, { federation: fed.name, root: fed.root.publicJwk }, policy, o.catalog);
  const senders = await reissueSenders(fed, policy, o.catalog, remaining, [...Object.keys(side.senderPublish), ...bridgedSenders(remaining)]);
  await writeDirectory(o.trustDir, { federation: fed });
  const consumers = await withAdmin(o, async (admin) => {
    const jsm = await jetstreamManager(admin);
    const gone: string[] = [];
    for (const c of exportConsumersOf(side)) if (await jsm.consumers.delete(c.stream, c.name).catch(() => false)) gone.push(c.name);
    return gone;
  });
  await pushFederationAccounts({ url: o.url, trustDir: o.trustDir, plain: o.plain, agencies: senders });
  await o.pushDirectory?.();
  return { id: o.id, revokedUsers, senders, consumers };
}
