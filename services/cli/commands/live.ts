import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { federationPolicy } from '../../exchange/admin.ts';
import { applyPolicy } from '../../exchange/policy-apply.ts';
import { quarantineCounts } from '../../exchange/quarantine-read.ts';
import type { QuarantineCounts } from '../../sdk/client/quarantine-entry.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { asLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/logging.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { STATUS_PING_SUBJECT, STATUS_SUBJECTS } from '../../sdk/subjects.ts';
import { statusPing } from '../../sdk/client/status-ping.ts';
import { serverList, trustDirTls } from '../../sdk/client/nats-tls.ts';
import { readPrivateFile, trustPaths } from '../../trust/index.ts';
import { int, need, str, type Command } from '../args.ts';
import { exchangeUrlFor } from '../exchange-url.ts';
import { Progress } from '../progress.ts';


const policyApply: Command = {
  path: ['policy', 'apply'],
  summary: 'apply a new policy to the running exchange: who gains and loses what, re-issued credentials, consumers reconciled, live sessions switched',
  usage: 'liaison policy apply --dir TRUST_DIR NEW_POLICY [--server URL] [--plain] [--dry-run] [--grace-ms MS] [--json]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'grace-ms': { type: 'string' }, json: { type: 'boolean' } },
  required: ['dir'],
  allowPositionals: true,
  async run(args, io) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name the new policy file (usage: ${policyApply.usage})`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONFIG_INVALID', `cannot read ${file}`);
    }
    const progress = new Progress();
    const report = await applyPolicy({
      onStep: (step) => progress.update(`policy apply: ${step}`),
      trustDir: need(args, 'dir'),
      policyText: text,
      policyFile: file,
      catalog: typeCatalogOf(loadCatalog()),
      url: exchangeUrlFor(need(args, 'dir'), str(args, 'server')),
      plain: args.values.plain === true,
      dryRun: args.values['dry-run'] === true,
      graceMs: int(args, 'grace-ms', 0, 60_000) ?? 1_500,
      logger: createLogger({ name: 'policy-apply', level: process.env.LIAISON_LOG_LEVEL ?? 'warn' }),
    }).finally(() => progress.done());
    if (args.values.json) {
      io.out(JSON.stringify(report));
      return 0;
    }
    io.out(`policy ${report.from.name} ${report.from.hash.slice(0, 12)}… → ${report.to.name} ${report.to.hash.slice(0, 12)}…`);
    if (report.changes.length === 0) io.out('no agency gains or loses anything');
    for (const c of report.changes) {
      io.out(`${c.agency}${c.identityChanged ? ' (name, country or roles changed)' : ''}`);
      for (const g of c.gains) io.out(`  + ${g}`);
      for (const l of c.losses) io.out(`  - ${l}`);
    }
    if (report.toEnrol.length) io.out(`not enrolled yet (liaison trust enrol): ${report.toEnrol.join(', ')}`);
    if (args.values['dry-run']) {
      io.out('dry run: nothing changed');
      return 0;
    }
    io.out(`re-issued credentials and NATS user JWTs: ${report.reissued.join(', ') || 'none'}`);
    io.out(`old sessions cut (they lost permissions): ${report.cut.join(', ') || 'none'}; revoked (no longer in the policy): ${report.removed.join(', ') || 'none'}`);
    io.out(`consumers: ${report.provisioned.consumers.length} provisioned, removed ${report.provisioned.removedConsumers.join(', ') || 'none'}`);
    io.out(`applied in ${report.elapsedMs} ms; connected agencies adopt it from the directory (liaison exchange status shows who enforces which policy)`);
    return 0;
  },
};

interface Status {
  agency: string;
  replica: number;
  policyHash: string;
  directoryIssuedAt: string;
  behind: boolean;
  consumers: string[];
  received: number;
  rejected: number;
}

const exchangeStatus: Command = {
  path: ['exchange', 'status'],
  summary: 'which policy each connected agency process enforces (and whether it is behind), its consumers and counters, and what waits in each agency\'s quarantine',
  usage: 'liaison exchange status --dir TRUST_DIR [--server URL] [--plain] [--wait-ms MS] [--json]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, 'wait-ms': { type: 'string' }, json: { type: 'boolean' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const url = exchangeUrlFor(dir, str(args, 'server'));
    const policy = await federationPolicy(dir, typeCatalogOf(loadCatalog()));
    const jws = (await readFile(trustPaths(dir).directory, 'utf8')).trim();
    const issuedAt = (JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as { issuedAt: string }).issuedAt;
    const nc = await connect({ servers: serverList(url), ...(await trustDirTls(dir, url, { plain: args.values.plain === true })), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(dir).adminCreds))), name: 'liaison-status' }).catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${url} as its administrator`);
    });
    const answers: Status[] = [];
    let quarantine: Record<string, QuarantineCounts> = {};
    try {
      const sub = nc.subscribe(STATUS_SUBJECTS, { callback: (err, m) => void (!err && answers.push(JSON.parse(m.string()) as Status)) });
      await nc.flush();
      nc.publish(STATUS_PING_SUBJECT, statusPing(jws));
      await new Promise((r) => setTimeout(r, int(args, 'wait-ms', 50, 60_000) ?? 1_000));
      sub.unsubscribe();
      // What waits in each agency's quarantine, by reason (liaison quarantine list/replay, as the agency, act on it).
      quarantine = await quarantineCounts(nc);
    } finally {
      await nc.close();
    }
    answers.sort((a, b) => a.agency.localeCompare(b.agency) || a.replica - b.replica);
    if (args.values.json) {
      io.out(JSON.stringify({ exchange: { policy: policy.name, policyHash: policy.hash, directoryIssuedAt: issuedAt }, processes: answers, quarantine }));
      return 0;
    }
    io.out(`exchange: policy "${policy.name}" ${policy.hash.slice(0, 16)}…, directory of ${issuedAt}`);
    if (answers.length === 0) io.out('no connected agency process answered');
    for (const a of answers) {
      const mark = a.policyHash === policy.hash && !a.behind ? 'current' : 'BEHIND (refuses to send until it catches up)';
      io.out(`  ${a.agency.padEnd(18)} r${a.replica}  policy ${a.policyHash.slice(0, 16)}… ${mark.padEnd(12)}  consumers ${String(a.consumers.length).padStart(3)}  received ${a.received}  rejected ${a.rejected}`);
    }
    for (const [agency, q] of Object.entries(quarantine)) {
      io.out(`  quarantine of ${agency.padEnd(18)} waiting: ${q.inDoubt} in doubt, ${q.deadLetter} dead letters, ${q.other} other refusals; ${q.replayed} replayed`);
    }
    return answers.every((a) => a.policyHash === policy.hash && !a.behind) ? 0 : 1;
  },
};

export const LIVE_COMMANDS: readonly Command[] = [policyApply, exchangeStatus];
