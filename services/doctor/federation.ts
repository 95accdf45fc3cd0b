import { readFile, stat } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { decodeJwt } from 'jose';
import type { Clock } from '../sdk/clock.ts';
import { systemClock } from '../sdk/clock.ts';
import { compileConsumers, compileStreams, parsePolicy, type TypeCatalog } from '../sdk/policy/index.ts';
import { listAgencyRecords, readPrivateFile, trustPaths, verifyDirectory, type Ed25519PublicJwk } from '../trust/index.ts';
import { readEnforcedPolicy, type EnforcedPolicy } from '../exchange/enforced.ts';
import { expiryFinding, fail, modeFinding, ok, warn, type Finding } from './finding.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { federationTlsFindings } from './tls.ts';
import { quarantineFinding } from './quarantine.ts';
import { quarantineCounts } from '../exchange/quarantine-read.ts';
import { fullReconcileOwns } from '../exchange/provision-consumers.ts';

/** The fix of stray consumers: the exact command of the full reconcile, which lists every stream and deletes them. */
function strayFix(o: { dir: string; server?: string; plain?: boolean }): string {
  const command = `liaison exchange reconcile --dir ${o.dir}${o.server ? ` --server ${o.server}` : ''}${o.plain ? ' --plain' : ''}`;
  return `run the full reconcile: ${command} (it lists every stream's consumers and deletes the durable ones no policy grants; the exchange itself provisions by name and never finds those made outside Liaison)`;
}

/** Whether the running exchange enforces the directory's policy (it adopts an applied one within a second or two). */
function enforcedFinding(enforced: EnforcedPolicy | undefined, directoryHash: string): Finding {
  if (!enforced) return warn('exchange policy', 'the exchange has not recorded which policy it enforces', 'restart `liaison exchange up --dir TRUST_DIR` with this version');
  if (enforced.policyHash !== directoryHash) {
    return fail('exchange policy', `the running exchange enforces policy ${enforced.policyHash.slice(0, 16)}… (since ${enforced.since}), the directory carries ${directoryHash.slice(0, 16)}…`, 'the exchange adopts the directory\'s policy within seconds of liaison policy apply; if this persists, restart `liaison exchange up`');
  }
  return ok('exchange policy', `the running exchange enforces the directory's policy (since ${enforced.since})`);
}

async function modeOf(file: string): Promise<number | undefined> {
  return stat(file).then(
    (s) => s.mode,
    () => undefined,
  );
}

/**
 * Check a federation's trust directory and its exchange: private key and creds modes, the policy, the
 * directory (verifies, carries the current policy), agencies' credential expiry, and — when the exchange
 * answers — that every stream and consumer the policy compiles to exists, and no stray consumer remains.
 */
export async function checkFederation(o: { dir: string; server?: string; plain?: boolean; catalog: TypeCatalog; clock?: Clock; timeoutMs?: number }): Promise<Finding[]> {
  const now = (o.clock ?? systemClock).now();
  const p = trustPaths(o.dir);
  const out: Finding[] = [];
  for (const [what, file] of [
    ['root key mode', p.rootKey],
    ['operator seed mode', p.operatorSeed],
    ['account seed mode', p.accountSeed],
    ['system seed mode', p.systemSeed],
    ['admin creds mode', p.adminCreds],
    ['sys creds mode', p.sysCreds],
  ] as const) {
    out.push(modeFinding(what, file, await modeOf(file)));
  }
  out.push(...(await federationTlsFindings(o.dir, now)));
  const text = await readFile(p.policy, 'utf8').catch(() => undefined);
  if (text === undefined) return [...out, fail('policy', `${p.policy} is missing`, 'restore it (liaison trust init wrote it), or apply a policy with liaison policy apply')];
  let policyOk = true;
  let policy;
  try {
    policy = parsePolicy(text, { file: p.policy, catalog: o.catalog });
    out.push(ok('policy', `"${policy.name}" ${policy.hash.slice(0, 16)}… is valid`));
  } catch (err) {
    policyOk = false;
    out.push(fail('policy', (err as Error).message.split('\n')[0]!, 'fix the file and apply it with liaison policy apply'));
  }
  try {
    const rootPub = JSON.parse(await readFile(p.rootPub, 'utf8')) as Ed25519PublicJwk;
    const d = await verifyDirectory((await readFile(p.directory, 'utf8')).trim(), rootPub);
    if (d.policy !== text) out.push(fail('directory', 'directory.jws carries another policy than policy.yaml (edited by hand?)', 'apply the policy with liaison policy apply, which re-signs the directory and tells the agencies'));
    else out.push(ok('directory', `verifies against the root key and carries policy.yaml (issued ${d.issuedAt})`));
  } catch (err) {
    out.push(fail('directory', `directory.jws does not verify: ${(err as Error).message}`, 'rebuild it: re-run the last trust command (enrol, revoke) or liaison policy apply'));
  }
  for (const r of await listAgencyRecords(o.dir)) {
    if (r.revokedAt) continue;
    const active = r.credentials.find((c) => c.status === 'active');
    const exp = active ? decodeJwt(active.jwt).exp : undefined;
    const f = expiryFinding(`credential ${r.id}`, `${r.id}'s credential`, exp === undefined ? undefined : exp * 1000, now, `liaison trust enrol --dir ${o.dir} --agency ${r.id} --out AGENCY_DIR --reissue`);
    if (f.status !== 'ok') out.push(f);
  }
  if (!o.server || !policy || !policyOk) return out;
  let nc;
  try {
    nc = await connect({ servers: serverList(o.server), ...(await trustDirTls(o.dir, o.server, { plain: o.plain })), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(p.adminCreds))), reconnect: false, timeout: o.timeoutMs ?? 3_000 });
  } catch (err) {
    out.push(fail('exchange', `cannot reach ${o.server} as the exchange administrator: ${(err as Error).message}`, 'is `liaison exchange up --dir TRUST_DIR` running? wrong --server?'));
    return out;
  }
  try {
    out.push(ok('exchange', `the exchange at ${o.server} answers the administrator`));
    out.push(enforcedFinding(await readEnforcedPolicy(nc), policy.hash));
    const jsm = await jetstreamManager(nc);
    const streams = compileStreams(policy, o.catalog);
    const missingStreams: string[] = [];
    for (const s of streams) if (!(await jsm.streams.info(s.name).catch(() => undefined))) missingStreams.push(s.name);
    const wanted = compileConsumers(policy, o.catalog);
    const enrolled = new Set((await listAgencyRecords(o.dir)).filter((r) => !r.revokedAt).map((r) => r.id));
    const missing = wanted.filter((c) => enrolled.has(c.agency));
    const absent: string[] = [];
    for (const c of missing) if (!(await jsm.consumers.info(c.stream, c.name).catch(() => undefined))) absent.push(c.name);
    const names = new Set(wanted.map((c) => c.name));
    const stray: string[] = [];
    for (const s of streams) {
      if (missingStreams.includes(s.name)) continue;
      // What the full reconcile deletes: durable, not a bridge's export consumer (the audit's readers are ephemeral).
      for await (const ci of jsm.consumers.list(s.name)) if (!names.has(ci.name) && fullReconcileOwns(ci)) stray.push(ci.name);
    }
    if (missingStreams.length || absent.length) {
      out.push(fail('provisioning', `missing streams: ${missingStreams.join(', ') || 'none'}; missing consumers: ${absent.slice(0, 6).join(', ') || 'none'}${absent.length > 6 ? ', …' : ''}`, 'restart `liaison exchange up` or re-apply the policy (liaison policy apply): both reconcile JetStream with the policy'));
    } else out.push(ok('provisioning', `${streams.length} streams and ${missing.length} consumers as the policy compiles them`));
    if (stray.length) out.push(fail('stray consumers', `consumers no policy grants: ${stray.join(', ')}`, strayFix(o)));
    out.push(quarantineFinding(await quarantineCounts(nc)));
  } finally {
    await nc.close();
  }
  return out;
}
