import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { compileConsumers, compilePermissions, parsePolicy, sendableTypes, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import {
  applyAccountUpdates,
  decodeNatsJwt,
  listAgencyRecords,
  openFederation,
  readPrivateFile,
  refreshExchangeAccount,
  reissueForPolicy,
  revokeAgency,
  pushFederationAccounts,
  revokeAgencyUsers,
  trustPaths,
  writeDirectory,
  writePublicFile,
  type Federation,
} from '../trust/index.ts';
import { federationPolicy } from './admin.ts';
import type { ProvisionReport } from './provision.ts';
import { provisionByName } from './provision-named.ts';
import { provisionPolicyChange } from './provision-change.ts';
import { refreshBridges, type BridgeRefresh } from '../bridge/refresh.ts';

/** What one agency gains and loses under a new policy. */
export interface AgencyChange {
  agency: string;
  /** `Type@tier (scope)` receive grants added / removed; send rights added / removed. */
  gains: string[];
  losses: string[];
  /** Name, country or roles changed (a new credential). */
  identityChanged: boolean;
}

/** The outcome of {@link applyPolicy}. */
export interface ApplyReport {
  from: { name: string; hash: string };
  to: { name: string; hash: string };
  changes: AgencyChange[];
  /** Enrolled agencies the new policy no longer names: revoked. */
  removed: string[];
  /** Agencies the new policy names that are not enrolled yet (`liaison trust enrol`). */
  toEnrol: string[];
  /** Agencies whose credentials and NATS user JWTs were re-issued. */
  reissued: string[];
  /** Re-issued agencies that lost a permission: their old JWTs are revoked, sessions still on them cut. */
  cut: string[];
  provisioned: ProvisionReport;
  /** Milliseconds from start to the old sessions being cut. */
  elapsedMs: number;
  /** Milliseconds spent in each step (prepare, re-issue, provision, push accounts, push directory, grace and cut…). */
  timings?: Record<string, number>;
  /** The applied cross-federation agreements, recompiled under the new policy (services/bridge/refresh.ts). */
  bridges?: BridgeRefresh[];
}

const grantsOf = (policy: Policy, agency: string, catalog: TypeCatalog): Set<string> => {
  const out = new Set<string>();
  if (!policy.agencies[agency]) return out;
  for (const c of compileConsumers(policy, catalog)) if (c.agency === agency && c.replica === 1) out.add(`receive ${c.type}@${c.tier} (${c.scope === 'all' ? 'broadcast' : c.scope})`);
  for (const t of sendableTypes(policy, agency)) out.add(`send ${t}`);
  return out;
};

/** Who gains and loses what between two policies, per agency named by either. */
export function policyChanges(from: Policy, to: Policy, catalog: TypeCatalog): AgencyChange[] {
  const out: AgencyChange[] = [];
  for (const id of [...new Set([...Object.keys(from.agencies), ...Object.keys(to.agencies)])].sort()) {
    const a = grantsOf(from, id, catalog);
    const b = grantsOf(to, id, catalog);
    const gains = [...b].filter((g) => !a.has(g)).sort();
    const losses = [...a].filter((g) => !b.has(g)).sort();
    const fa = from.agencies[id];
    const ta = to.agencies[id];
    const identityChanged = Boolean(fa && ta && (fa.name !== ta.name || fa.country !== ta.country || fa.roles.join() !== ta.roles.join()));
    const permsChanged = Boolean(fa && ta && JSON.stringify(compilePermissions(from, id, catalog)) !== JSON.stringify(compilePermissions(to, id, catalog)));
    if (gains.length || losses.length || identityChanged || permsChanged) out.push({ agency: id, gains, losses, identityChanged });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `id`'s compiled permissions under `next` lack something it had under `current` (its old JWT must go). */
function lostPermission(current: Policy, next: Policy, id: string, catalog: TypeCatalog): boolean {
  const before = compilePermissions(current, id, catalog);
  const after = compilePermissions(next, id, catalog);
  const lost = (a: string[], b: string[]) => a.some((x) => !b.includes(x));
  return lost(before.pub.allow, after.pub.allow) || lost(before.sub.allow, after.sub.allow) || (before.resp !== undefined && after.resp === undefined);
}

/** The second a NATS user JWT was issued in (its `iat`). */
const issuedSecond = (jwt: string): number => decodeNatsJwt(jwt, 'NATS user JWT').iat ?? 0;

/** Milliseconds per step of an apply, written to the report as each step ends. */
function stepTimer(report: ApplyReport): { lap(step: string): void } {
  let last = Date.now();
  report.timings = {};
  return {
    lap(step) {
      const now = Date.now();
      report.timings![step] = now - last;
      last = now;
    },
  };
}

/**
 * Re-issue the affected agencies' credentials and user JWTs under `next`, all at once (each writes only its own
 * record and account), then re-sign the exchange account's imports once. Returns the agencies re-issued, in order.
 */
async function reissueAffected(fed: Federation, next: Policy, affected: readonly string[], o: { catalog: TypeCatalog; onStep?: (step: string) => void }): Promise<string[]> {
  await Promise.all(
    affected.map((id, i) => {
      o.onStep?.(`re-issuing credentials ${i + 1}/${affected.length}: ${id}`);
      const a = next.agencies[id]!;
      return reissueForPolicy(fed, { agencyId: id, name: a.name, country: a.country, roles: a.roles, permissions: compilePermissions(next, id, o.catalog), refreshExchange: false });
    }),
  );
  await refreshExchangeAccount(fed);
  return [...affected];
}

/**
 * Apply a new policy to a running federation, without restarting anything:
 * 1. validate it (ERR_POLICY_INVALID naming file:line:col) and work out who gains and loses what;
 * 2. note the revocation time T of the affected agencies' current NATS user JWTs, then — in the next
 *    second — re-issue their credentials and user JWTs (same keys: nothing secret changes hands);
 * 3. write the policy and the root-signed directory (new policy, credentials, user JWTs) and reconcile
 *    JetStream (new consumers, removed ones deleted);
 * 4. let the exchange push the directory: connected SDKs adopt their new JWT and reconnect by themselves
 *    (`graceMs`), then push the account JWT revoking every user JWT issued up to T — a session still on
 *    old permissions is cut by the server. Agencies the new policy drops are revoked.
 */
export async function applyPolicy(o: {
  trustDir: string;
  policyText: string;
  policyFile?: string;
  catalog: TypeCatalog;
  /** The running exchange's nats-server. */
  url: string;
  /** The exchange serves plain TCP (`exchange up --plain`, loopback only); default TLS verified with the trust dir's CA. */
  plain?: boolean;
  /** The exchange administrator's connection (else one is opened from the trust dir's admin creds). */
  admin?: NatsConnection;
  /** Push the directory now (an attached exchange's `directory.refresh`); otherwise the exchange's poll picks it up. */
  pushDirectory?: () => Promise<unknown>;
  graceMs?: number;
  /** Told each step as it starts (the CLI shows it as a progress line on a terminal). */
  onStep?: (step: string) => void;
  logger?: Logger;
  /** Validate and report only. */
  dryRun?: boolean;
}): Promise<ApplyReport> {
  const t0 = Date.now();
  const logger = o.logger ?? silentLogger();
  const next = parsePolicy(o.policyText, { file: o.policyFile ?? 'policy.yaml', catalog: o.catalog });
  const current = await federationPolicy(o.trustDir, o.catalog);
  const changes = policyChanges(current, next, o.catalog);
  const records = await listAgencyRecords(o.trustDir);
  const enrolled = new Set(records.filter((r) => r.revokedAt === undefined).map((r) => r.id));
  const removed = [...enrolled].filter((id) => !next.agencies[id]).sort();
  const toEnrol = Object.keys(next.agencies).filter((id) => !records.some((r) => r.id === id)).sort();
  const affected = changes.map((c) => c.agency).filter((id) => enrolled.has(id) && next.agencies[id]);
  const report: ApplyReport = {
    from: { name: current.name, hash: current.hash },
    to: { name: next.name, hash: next.hash },
    changes,
    removed,
    toEnrol,
    reissued: [],
    cut: [],
    provisioned: { streams: [], consumers: [], removedConsumers: [], buckets: [] },
    elapsedMs: 0,
  };
  if (o.dryRun) return report;

  const timer = stepTimer(report);
  // Only an agency that loses a permission needs its current JWT revoked; one that only gains adopts
  // the new JWT when it sees the directory (also after being offline: its old JWT still connects).
  const losers = affected.filter((id) => lostPermission(current, next, id, o.catalog));
  report.cut = losers;
  const liveUsers = (id: string) => records.find((r) => r.id === id)?.nats.users.filter((u) => u.revokedAt === undefined) ?? [];
  const usersOf = (id: string) => liveUsers(id).map((u) => u.publicKey);
  const issuedSecondsOf = (id: string) => liveUsers(id).map((u) => (u.jwt ? issuedSecond(u.jwt) : Math.floor(Date.parse(u.issuedAt) / 1000) || 0));
  // The losers' current JWTs are revoked — only after the agencies had time to switch — up to the second before this
  // one, or up to the newest of them when one was issued in this very second (NATS revokes by issue second).
  const revokedUpTo = Math.max(Math.floor(Date.now() / 1000) - 1, ...losers.flatMap(issuedSecondsOf));
  const revokeAt = new Date(revokedUpTo * 1000);
  await writePublicFile(trustPaths(o.trustDir).policy, o.policyText.endsWith('\n') ? o.policyText : `${o.policyText}\n`);
  const fed = await openFederation(o.trustDir);
  // New JWTs must be issued after the revocation second, or they would be revoked with the old ones: a wait only when
  // an old JWT was issued in this second.
  while (Math.floor(Date.now() / 1000) <= revokedUpTo) await sleep(20);
  timer.lap('prepare');
  report.reissued = await reissueAffected(fed, next, affected, o);
  await writeDirectory(o.trustDir, { federation: fed });
  timer.lap('re-issue');

  const admin =
    o.admin ??
    (await connect({ servers: serverList(o.url), ...(await trustDirTls(o.trustDir, o.url, { plain: o.plain })), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(o.trustDir).adminCreds))), name: 'liaison-policy-apply' }).catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${o.url} as its administrator`);
    }));
  try {
    const revokedBefore = new Set(records.filter((r) => r.revokedAt !== undefined).map((r) => r.id));
    const revoked = new Set([...(await listAgencyRecords(o.trustDir)).filter((r) => r.revokedAt !== undefined).map((r) => r.id), ...removed]);
    o.onStep?.('provisioning streams and consumers for the new policy');
    // Only what the change touches; the same policy applied again reconciles everything it compiles, by name (it
    // repairs an apply that stopped half-way, whose policy was already written: the exchange's record of its consumers
    // names those the earlier policy granted). Nothing listed: a listing waits ≈ 4 s for a dead cluster node.
    report.provisioned =
      current.hash === next.hash
        ? await provisionByName(admin, next, o.catalog, logger, revoked)
        : await provisionPolicyChange(admin, { policy: current, revoked: revokedBefore }, { policy: next, revoked }, o.catalog, logger);
  } finally {
    if (!o.admin) await admin.close().catch(() => undefined);
  }
  timer.lap('provision');
  // The broker grants by the accounts' imports: the new ones go in before the agencies are told.
  o.onStep?.('pushing the agencies\' NATS accounts to the exchange');
  if (affected.length > 0) await pushFederationAccounts({ url: o.url, trustDir: o.trustDir, plain: o.plain, agencies: affected });
  timer.lap('push accounts');
  await o.pushDirectory?.();
  timer.lap('push directory');
  // Each applied agreement's side follows the new policy: export consumers, the bridge users' rights (issue 17).
  o.onStep?.('recompiling the applied cross-federation agreements');
  report.bridges = await refreshBridges({ trustDir: o.trustDir, url: o.url, plain: o.plain, ...(o.admin ? { admin: o.admin } : {}), policy: next, previous: current, catalog: o.catalog, logger });
  timer.lap('bridges');
  if (losers.length > 0) {
    await sleep(o.graceMs ?? 1_500);
    const jwts: string[] = [];
    for (const id of losers) jwts.push(await revokeAgencyUsers(fed, id, usersOf(id), revokeAt, { exact: true }));
    await applyAccountUpdates({ url: o.url, trustDir: o.trustDir, plain: o.plain }, [jwts]);
    timer.lap('grace and cut');
  }
  if (removed.length > 0) {
    const jwts: string[] = [];
    for (const id of removed) jwts.push((await revokeAgency({ dir: o.trustDir, agencyId: id })).accountJwt);
    await applyAccountUpdates({ url: o.url, trustDir: o.trustDir, plain: o.plain }, [jwts]);
    await o.pushDirectory?.();
    timer.lap('revoke removed');
  }
  report.elapsedMs = Date.now() - t0;
  logger.info({ from: report.from.hash, to: report.to.hash, reissued: report.reissued, removed, elapsedMs: report.elapsedMs, timings: report.timings }, 'policy applied');
  return report;
}
