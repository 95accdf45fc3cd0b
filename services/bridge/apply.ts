import { mkdir, readFile } from 'node:fs/promises';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { asLiaisonError } from '../sdk/errors.ts';
import type { ConsumerSpec, Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { DIRECTORY_UPDATE_SUBJECT, directoryRequestSubject } from '../sdk/subjects.ts';
import { federationPolicy } from '../exchange/admin.ts';
import type { User } from '@nats-io/jwt';
import {
  decodeNatsJwt,
  issueUser,
  listAgencyRecords,
  openFederation,
  pushFederationAccounts,
  readPrivateFile,
  reissueForPolicy,
  trustPaths,
  writeAgencyAccount,
  writeDirectory,
  writePrivateFile,
  writePublicFile,
} from '../trust/index.ts';
import type { Federation } from '../trust/federation.ts';
import { readSignedAgreement, writeSignedAgreement } from './agreement/file.ts';
import type { Agreement, SignedAgreementFile } from './agreement/model.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { appliedBridges, bridgedPermissions, type AppliedBridge } from './applied.ts';
import { compileBridgeSide, type BridgeSide } from './compile.ts';
import { exportConsumersOf, exportUserRights } from './export-consumers.ts';
import { bridgeAccountId, bridgePaths } from './paths.ts';
import { keepHandledAcrossOutages } from './handled.ts';

/** What `liaison bridge apply` did. */
export interface BridgeApplyReport {
  id: string;
  peer: string;
  /** Local senders re-issued with the outbound flows' subjects. */
  senders: string[];
  /** Export consumers provisioned (one per family and foreign recipient). */
  consumers: string[];
  exportCreds: string;
  importCreds: string;
  /** Flows this federation's policy cannot honour (compileBridgeSide's issues): reported, never widened. */
  issues: string[];
}

/** The bridge users' public keys, kept for `bridge revoke`. */
export interface BridgeUsers {
  export: string[];
  import: string[];
}

/** Where the running exchange is and how to reach it as its administrator. */
export interface ExchangeReach {
  trustDir: string;
  url: string;
  plain?: boolean;
  /** The administrator's connection (else one is opened from the trust dir's admin creds). */
  admin?: NatsConnection;
  /** Push the directory now (an attached exchange's `directory.refresh`); otherwise the exchange's poll picks it up. */
  pushDirectory?: () => Promise<unknown>;
}

/**
 * `liaison bridge apply --trust DIR --agreement SIGNED` (bridge design §4): verify the agreement from this side
 * (both roots, own root, expiry), store it, re-issue the outbound senders with the flows' subjects, sign the
 * directory carrying it, provision the export consumers, issue the export and import users in the bridge's own
 * account (their `.creds` at 0600 under TRUST_DIR/bridges/<id>/), push the accounts, then the directory.
 */
export async function applyBridge(o: ExchangeReach & { signed: string | SignedAgreementFile; catalog: TypeCatalog; now?: Date }): Promise<BridgeApplyReport> {
  const fed = await openFederation(o.trustDir);
  const policy = await federationPolicy(o.trustDir, o.catalog);
  const doc = typeof o.signed === 'string' ? await readSignedAgreement(o.signed) : o.signed;
  const agreement = verifyAgreement(doc, { federation: fed.name, root: fed.root.publicJwk }, o.now ?? new Date(), { catalog: o.catalog, ...(typeof o.signed === 'string' ? { file: o.signed } : {}) });
  const side = compileBridgeSide(agreement, fed.name, policy, o.catalog);
  const paths = bridgePaths(o.trustDir, agreement.id);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await writeSignedAgreement(paths.agreement, doc);
  const bridges = await appliedBridges(o.trustDir, { federation: fed.name, root: fed.root.publicJwk }, policy, o.catalog, { now: o.now });
  const senders = await reissueSenders(fed, policy, o.catalog, bridges, Object.keys(side.senderPublish));
  await writeDirectory(o.trustDir, { federation: fed });
  await withAdmin(o, async (admin) => {
    await provisionExportConsumers(admin, exportConsumersOf(side));
    await keepHandledAcrossOutages(admin, policy, bridges);
  });
  await issueBridgeUsers(fed, agreement, side);
  await pushFederationAccounts({ url: o.url, trustDir: o.trustDir, plain: o.plain, agencies: [...senders, bridgeAccountId(agreement.id)] });
  await o.pushDirectory?.();
  return { id: agreement.id, peer: side.peer, senders, consumers: exportConsumersOf(side).map((c) => c.name), exportCreds: paths.exportCreds, importCreds: paths.importCreds, issues: side.issues };
}

/**
 * Re-issue the enrolled, unrevoked agencies among `ids` whose current NATS user JWT does not grant exactly their
 * policy permissions plus every applied bridge's outbound subjects (an unchanged one is left alone: a re-issued JWT
 * makes the agency reconnect).
 */
export async function reissueSenders(fed: Federation, policy: Policy, catalog: TypeCatalog, bridges: readonly AppliedBridge[], ids: readonly string[]): Promise<string[]> {
  const records = new Map((await listAgencyRecords(fed.dir)).filter((r) => r.revokedAt === undefined).map((r) => [r.id, r]));
  const done: string[] = [];
  for (const id of [...new Set(ids)].sort()) {
    const a = policy.agencies[id];
    const user = records.get(id)?.nats.users.filter((u) => u.revokedAt === undefined && u.jwt).at(-1);
    if (!a || !user?.jwt) continue;
    const permissions = bridgedPermissions(policy, id, catalog, bridges);
    const current = decodeNatsJwt<User>(user.jwt, `NATS user JWT of ${id}`).nats.pub?.allow ?? [];
    if (JSON.stringify([...current].sort()) === JSON.stringify(permissions.pub.allow)) continue;
    await reissueForPolicy(fed, { agencyId: id, name: a.name, country: a.country, roles: a.roles, permissions });
    done.push(id);
  }
  return done;
}

/** Run `step` on the exchange administrator's connection (the given one, or one opened from the trust dir). */
export async function withAdmin<T>(o: ExchangeReach, step: (admin: NatsConnection) => Promise<T>): Promise<T> {
  const admin =
    o.admin ??
    (await connect({
      servers: serverList(o.url),
      ...(await trustDirTls(o.trustDir, o.url, { plain: o.plain })),
      authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(o.trustDir).adminCreds))),
      name: 'liaison-bridge-apply',
    }).catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${o.url} as its administrator`);
    }));
  try {
    return await step(admin);
  } finally {
    if (!o.admin) await admin.close().catch(() => undefined);
  }
}

const nanos = (ms: number) => ms * 1_000_000;

/** Create (or re-create with a changed filter) the export consumers: durable, explicit ack, every stored copy. */
export async function provisionExportConsumers(admin: NatsConnection, specs: readonly ConsumerSpec[]): Promise<void> {
  const jsm = await jetstreamManager(admin);
  for (const c of specs) {
    const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
    if (info?.config.filter_subject === c.filterSubject) continue;
    if (info) await jsm.consumers.delete(c.stream, c.name);
    await jsm.consumers.add(c.stream, {
      durable_name: c.name,
      filter_subject: c.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(c.ackWaitMs),
      max_ack_pending: c.maxAckPending,
    });
  }
}

/**
 * The export user's rights: the compiled ones, plus the own federation's directory — its pushes, and asking for the
 * current one as any client can (a bridge run from a kit has no trust dir to read it from) — which it carries to the peer.
 */
function exportRights(side: BridgeSide): { pub: { allow: string[] }; sub: { allow: string[] } } {
  const rights = exportUserRights(side);
  const pub = [...new Set([...rights.pub.allow, directoryRequestSubject(bridgeAccountId(side.agreementId))])].sort();
  return { pub: { allow: pub }, sub: { allow: [...new Set([...rights.sub.allow, DIRECTORY_UPDATE_SUBJECT])].sort() } };
}

/**
 * The bridge's own NATS account (its imports: exactly the two users' rights) and its two users, their `.creds`
 * written at 0600; the users' public keys are appended to users.json (a re-apply issues new ones; revoke cuts all).
 */
export async function issueBridgeUsers(fed: Federation, agreement: Agreement, side: BridgeSide): Promise<BridgeUsers> {
  const paths = bridgePaths(fed.dir, agreement.id);
  const exp = exportRights(side);
  const imp = { pub: { allow: [...side.importUser.pub] }, sub: { allow: [...side.importUser.sub] } };
  const union = { pub: { allow: [...new Set([...exp.pub.allow, ...imp.pub.allow])].sort() }, sub: { allow: [...new Set([...exp.sub.allow, ...imp.sub.allow])].sort() } };
  const account = bridgeAccountId(agreement.id);
  await writeAgencyAccount(fed, account, union);
  const seed = (await readPrivateFile(trustPaths(fed.dir).agencyAccountSeed(account))).toString('utf8').trim();
  const expiresAt = agreement.expiresAt;
  const exportUser = await issueUser({ accountSigner: seed, name: `bridge-${agreement.id}-export`, permissions: exp, expiresAt, connectionTypes: ['STANDARD'] });
  const importUser = await issueUser({ accountSigner: seed, name: `bridge-${agreement.id}-import`, permissions: imp, expiresAt, connectionTypes: ['STANDARD'] });
  await writePrivateFile(paths.exportCreds, exportUser.creds);
  await writePrivateFile(paths.importCreds, importUser.creds);
  const users = await readBridgeUsers(fed.dir, agreement.id);
  users.export.push(exportUser.publicKey);
  users.import.push(importUser.publicKey);
  await writePublicFile(paths.users, `${JSON.stringify(users, null, 2)}\n`);
  return users;
}

/** The bridge users ever issued for agreement `id` (empty lists when none). */
export async function readBridgeUsers(trustDir: string, id: string): Promise<BridgeUsers> {
  try {
    const u = JSON.parse(await readFile(bridgePaths(trustDir, id).users, 'utf8')) as BridgeUsers;
    return { export: [...u.export], import: [...u.import] };
  } catch {
    return { export: [], import: [] };
  }
}
