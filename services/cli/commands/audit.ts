import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { decodeEntry, formatRow, queryLedger, readLedger, verifyLedger, type Entry } from '../../audit/index.ts';
import { crossNote } from '../../audit/query.ts';
import { explainMessage } from '../../audit/explain.ts';
import { retractionWithReceipts } from '../../exchange/retract-service.ts';
import { asLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { serverList, trustDirTls } from '../../sdk/client/nats-tls.ts';
import { readAuditPublicKey } from '../../trust/audit-key.ts';
import { readPrivateFile, trustPaths } from '../../trust/index.ts';
import { need, str, type Command } from '../args.ts';
import { exchangeUrlFor } from '../exchange-url.ts';


/** The exchange administrator's connection: the ledger is readable by it alone. */
export async function connectAdmin(trustDir: string, server: string | undefined, plain: boolean): Promise<NatsConnection> {
  const url = exchangeUrlFor(trustDir, server);
  try {
    return await connect({ servers: serverList(url), ...(await trustDirTls(trustDir, url, { plain })), authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(trustDir).adminCreds))), name: 'liaison-audit-cli', maxReconnectAttempts: 0 });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_CONNECT', `cannot reach the exchange at ${url} as its administrator`);
  }
}

const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: 'verify the audit ledger: hash chain, entry order and signed checkpoints; names each modified, removed, inserted or reordered entry',
  usage: 'liaison audit verify --dir TRUST_DIR [--server URL] [--plain] [--json]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const pub = await readAuditPublicKey(dir);
    const nc = await connectAdmin(dir, str(args, 'server'), args.values.plain === true);
    try {
      const report = verifyLedger(await readLedger(nc), { publicKey: pub.key, kid: pub.jwk.kid ?? '' });
      if (args.values.json) io.out(JSON.stringify(report));
      else {
        const cp = report.lastCheckpoint;
        io.out(`${report.entries} entries, ${report.checkpoints} signed checkpoints${cp ? `; last: entry ${cp.entry} at ${cp.at} covers 1–${cp.count}` : ''}; ${report.uncovered} entries after it are chained but not yet signed for`);
        for (const p of report.problems) io.out(`entry ${p.entry ?? '?'} (stream seq ${p.seq}): ${p.kind}: ${p.message}`);
        io.out(report.ok ? 'ledger intact' : `ledger TAMPERED: ${report.problems.length} problem(s)`);
      }
      if (!report.ok) io.err(`liaison: ${new LiaisonError('ERR_AUDIT_TAMPERED', `${report.problems.length} problem(s) in the audit ledger`).toLine()}`);
      return report.ok ? 0 : 1;
    } finally {
      await nc.close();
    }
  },
};

const auditQuery: Command = {
  path: ['audit', 'query'],
  summary: 'who saw what, when: ledger entries sent by, delivered to, refused by or asked by an agency',
  usage: 'liaison audit query --dir TRUST_DIR [--server URL] [--plain] [--agency X] [--since ISO_TIME] [--type TYPE] [--json]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, agency: { type: 'string' }, since: { type: 'string' }, type: { type: 'string' }, json: { type: 'boolean' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const sinceText = str(args, 'since');
    const since = sinceText === undefined ? undefined : new Date(sinceText);
    if (since && Number.isNaN(since.getTime())) throw new LiaisonError('ERR_USAGE', `--since must be an ISO 8601 time, got "${sinceText}"`);
    const nc = await connectAdmin(dir, str(args, 'server'), args.values.plain === true);
    try {
      const entries = await ledgerEntries(nc, io.err);
      const rows = queryLedger(entries, { agency: str(args, 'agency'), since, type: str(args, 'type') });
      if (args.values.json) io.out(JSON.stringify(rows));
      else {
        for (const r of rows) io.out(formatRow(r));
        io.out(`${rows.length} entries`);
      }
      return 0;
    } finally {
      await nc.close();
    }
  },
};

/** `liaison audit verify | query`. */
/** Every decodable ledger entry; an undecodable one is reported (audit verify names it). */
export async function ledgerEntries(nc: NatsConnection, warn: (line: string) => void): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const s of await readLedger(nc)) {
    try {
      entries.push(decodeEntry(s.data));
    } catch {
      warn(`stream sequence ${s.seq} is not an audit entry (run liaison audit verify)`);
    }
  }
  return entries;
}

const explain: Command = {
  path: ['explain'],
  summary: 'for a real message, from the audit ledger: who sent it, which tier went to whom, who acknowledged it, who refused it and why',
  usage: 'liaison explain --dir TRUST_DIR MSG_ID [--from SENDER] [--server URL] [--plain] [--json]',
  options: { dir: { type: 'string' }, from: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['dir'],
  allowPositionals: true,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name one message id (usage: ${explain.usage})`);
    const from = str(args, 'from');
    const nc = await connectAdmin(need(args, 'dir'), str(args, 'server'), args.values.plain === true);
    try {
      const entries = await ledgerEntries(nc, io.err);
      // Ids come from the sender: one id may name messages of several senders, each explained on its own.
      const found = explainMessage(entries, id, from);
      if (found.length === 0) {
        io.err(`the audit ledger has no message ${id}${from ? ` from ${from}` : ''}`);
        return 1;
      }
      for (const x of found) {
        // A retraction is the exchange's record of that sender's message (its Retractions and receipts are messages of their own in the ledger).
        const retraction = x.sender ? await retractionWithReceipts(nc, x.sender, id).catch(() => undefined) : undefined;
        if (args.values.json) {
          io.out(JSON.stringify({ ...x, ...(retraction ? { retraction } : {}) }));
          continue;
        }
        io.out(`${x.type ?? '?'} ${id} from ${x.sender ?? '?'} to ${x.recipient ?? '?'}`);
        for (const c of x.copies) {
          const acked = c.deliverTo.map((a) => `${a}${c.acknowledged.includes(a) ? ' ✓' : ''}`).join(', ');
          io.out(`  ${c.tier.padEnd(12)} stored ${c.storedAt} (${c.stream} #${c.seq}) for ${acked || 'nobody'}${crossNote(c.cross)}`);
        }
        for (const r of x.refused) io.out(`  refused by ${r.by} at ${r.at}: ${r.code} — ${r.reason}`);
        if (retraction) {
          io.out(`  RETRACTED by ${retraction.sender} at ${retraction.retractedAt}${retraction.reason ? `: ${retraction.reason}` : ''}${retraction.replacedBy ? ` — replaced by ${retraction.replacedBy}` : ''}`);
          for (const r of retraction.recipients) io.out(`    ${r.agency.padEnd(20)} Retraction ${r.retractionId}  ${r.acknowledgedAt ? `receipt ✓ ${r.acknowledgedAt}` : 'no receipt yet'}`);
          if (retraction.withheld.length) io.out(`    withheld (deleted before they read it): ${retraction.withheld.join(', ')}`);
        }
      }
      if (!args.values.json) io.out('✓ = acknowledged by the agency\'s consumer');
      return 0;
    } finally {
      await nc.close();
    }
  },
};

export const AUDIT_COMMANDS: Command[] = [auditVerify, auditQuery, explain];
