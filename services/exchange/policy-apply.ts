import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { compileConsumers, compilePermissions, parsePolicy, sendableTypes, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import {
  applyAccountUpdate,
  listAgencyRecords,
  openFederation,
  readPrivateFile,
  reissueForPolicy,
  revokeAgency,
  pushFederationAccounts,
  revokeAgencyUsers,
  trustPaths,
  writeDirectory,
  writePublicFile,
} from '../trust/index.ts';
import { federationPolicy } from './admin.ts';
import { provisionExchange, type ProvisionReport } from './provision.ts';

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

  let fed = await openFederation(o.trustDir);
  // Only an agency that loses a permission needs its current JWT revoked; one that only gains adopts
  // the new JWT when it sees the directory (also after being offline: its old JWT still connects).
  const losers = affected.filter((id) => {
    const before = compilePermissions(current, id, o.catalog);
    const after = compilePermissions(next, id, o.catalog);
    const lost = (a: string[], b: string[]) => a.some((x) => !b.includes(x));
    return lost(before.pub.allow, after.pub.allow) || lost(before.sub.allow, after.sub.allow) || (before.resp !== undefined && after.resp === undefined);
  });
  report.cut = losers;
  const usersOf = (id: string) => records.find((r) => r.id === id)?.nats.users.filter((u) => u.revokedAt === undefined).map((u) => u.publicKey) ?? [];
  // The losers' current JWTs (issued up to this second) are revoked — only after the agencies had time to switch.
  const revokeAt = new Date();
  const revokedUpTo = Math.floor(revokeAt.getTime() / 1000);
  await writePublicFile(trustPaths(o.trustDir).policy, o.policyText.endsWith('\n') ? o.policyText : `${o.policyText}\n`);
  fed = await openFederation(o.trustDir);
  // New JWTs must be issued after the revocation second, or they would be revoked with the old ones.
  if (losers.length > 0) while (Math.floor(Date.now() / 1000) <= revokedUpTo) await sleep(20);
  for (const [i, id] of affected.entries()) {
    o.onStep?.(`re-issuing credentials ${i + 1}/${affected.length}: ${id}`);
    const a = next.agencies[id]!;
    await reissueForPolicy(fed, { agencyId: id, name: a.name, country: a.country, roles: a.roles, permissions: compilePermissions(next, id, o.catalog) });
    report.reissued.push(id);
  }
  await writeDirectory(o.trustDir, { federation: fed });

  const admin =
    o.admin ??
    (await connect({ servers: serverList(o.url), ...(await trustDirTls(o.trustDir, o.url, { plain: o.plain })), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(o.trustDir).adminCreds))), name: 'liaison-policy-apply' }).catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${o.url} as its administrator`);
    }));
  try {
    const revoked = new Set([...(await listAgencyRecords(o.trustDir)).filter((r) => r.revokedAt !== undefined).map((r) => r.id), ...removed]);
    o.onStep?.('provisioning streams and consumers for the new policy');
    report.provisioned = await provisionExchange(admin, next, o.catalog, logger, revoked);
  } finally {
    if (!o.admin) await admin.close().catch(() => undefined);
  }
  // The broker grants by the accounts' imports: the new ones go in before the agencies are told.
  o.onStep?.('pushing the agencies\' NATS accounts to the exchange');
  if (affected.length > 0) await pushFederationAccounts({ url: o.url, trustDir: o.trustDir, plain: o.plain, agencies: affected });
  await o.pushDirectory?.();
  if (losers.length > 0) {
    await sleep(o.graceMs ?? 1_500);
    for (const id of losers) {
      const accountJwt = await revokeAgencyUsers(fed, id, usersOf(id), revokeAt, { exact: true });
      await applyAccountUpdate({ url: o.url, trustDir: o.trustDir, accountJwt, plain: o.plain });
    }
  }
  for (const id of removed) {
    const r = await revokeAgency({ dir: o.trustDir, agencyId: id });
    await applyAccountUpdate({ url: o.url, trustDir: o.trustDir, accountJwt: r.accountJwt, plain: o.plain });
  }
  if (removed.length) await o.pushDirectory?.();
  report.elapsedMs = Date.now() - t0;
  logger.info({ from: report.from.hash, to: report.to.hash, reissued: report.reissued, removed, elapsedMs: report.elapsedMs }, 'policy applied');
  return report;
}
