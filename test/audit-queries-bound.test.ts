import { headers as natsHeaders } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, queryLedger, readLedger, sha256, startAuditService, verifyLedger, type AuditService, type Entry, type QueriesMissedEntry, type QueryEntry, type StoredEntry } from '../services/audit/index.ts';
import { AUDIT_COMMANDS } from '../services/cli/commands/audit.ts';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { serviceSubject } from '../services/sdk/subjects.ts';
import { readAuditPublicKey } from '../services/trust/audit-key.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/** The bound under test: far below a burst, so the burst overflows it whatever the machine's speed. */
const BOUND = 8;
/** Requests each agency publishes in the burst. */
const PER_AGENCY = 400;

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) }, AUDIT_COMMANDS);
  return { code, out, err };
}

describe('audit: requests to record wait in a bounded queue; those beyond it are counted in a signed queries-missed entry (issue 16)', () => {
  let fed: TestFederation;
  let audit: AuditService;
  const clients: Record<string, LiaisonClient> = {};
  /** Digest of every request published, by requester. */
  const sent: Record<string, Set<string>> = { 'xa-border-police': new Set(), 'xb-police': new Set() };
  let entries: Entry[];
  /** The audit's log lines (pino JSON). */
  const logged: { level: number; msg: string }[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'audit-queries-bound' });
    await fed.exchange.audit!.stop();
    audit = await startAuditService({ nc: fed.exchange.admin, trustDir: fed.trustDir, policy: () => fed.exchange.policy, catalog: typeCatalogOf(fed.catalog), logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) }), queryQueue: { maxRequests: BOUND }, cryptoWorkers: 1 });
    fed.exchange.audit = audit;
    for (const a of Object.keys(sent)) clients[a] = await fed.connect(a);
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a burst of signed checks holds at most the bound; every request held is recorded, every other one counted: kept + missed = sent', async () => {
    // Sealed first (signing is not what is measured), then published back to back on the audited subject.
    const burst = Object.entries(clients).flatMap(([agency, c]) =>
      Array.from({ length: PER_AGENCY }, (_, i) => {
        const copy = c.seal('DocumentCheckRequest', { documentNumber: `XA${String(i).padStart(7, '0')}`, issuingCountry: 'XAA' }, { to: 'xc-ncb' }).copies[0]!;
        const h = natsHeaders();
        for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
        sent[agency]!.add(sha256(copy.data));
        return { c, subject: serviceSubject('documents', 'DocumentCheckRequest', agency), data: copy.data, h };
      }),
    );
    for (const r of burst) r.c.nc.publish(r.subject, r.data, { headers: r.h });
    await Promise.all(Object.values(clients).map((c) => c.nc.flush()));
    await audit.flush(60_000);
    await audit.checkpoint();
    entries = (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data));

    const q = audit.stats().queries;
    console.log('audit request queue after the burst:', JSON.stringify(q));
    expect(q.highWater, 'items held at once').toBeLessThanOrEqual(BOUND);
    expect(q.held).toBe(0);
    expect(q.missed, 'the burst overflowed the bound').toBeGreaterThan(0);

    const recorded = entries.filter((e): e is QueryEntry => e.kind === 'query');
    const missed = entries.filter((e): e is QueriesMissedEntry => e.kind === 'queries-missed');
    expect(missed.length).toBe(q.episodes);
    expect(missed.length).toBeGreaterThan(0);
    for (const [agency, digests] of Object.entries(sent)) {
      const kept = recorded.filter((e) => e.requester === agency);
      // Every recorded request is one that was sent, once, verified under its signer.
      expect(new Set(kept.map((e) => e.digest)).size).toBe(kept.length);
      for (const e of kept) expect(digests.has(e.digest)).toBe(true);
      expect(kept.every((e) => e.unverified === undefined)).toBe(true);
      const notKept = missed.flatMap((m) => m.missed).filter((m) => m.requester === agency && m.service === 'documents.DocumentCheckRequest');
      expect(kept.length + notKept.reduce((n, m) => n + m.count, 0), `${agency}: recorded + counted as missed`).toBe(digests.size);
    }
    expect(missed.reduce((n, m) => n + m.count, 0)).toBe(q.missed);
    // Said in the logs once per overflow episode, not once per request.
    const warnings = logged.filter((l) => l.level === 40 && /request queue full/.test(l.msg));
    expect(warnings.length).toBe(q.episodes);
    expect(warnings.length).toBeLessThan(q.missed);
    // Their signatures were checked on the crypto pool (one check per request recorded).
    expect(audit.stats().verifiedOnPool).toBe(recorded.length);
    for (const m of missed) {
      expect(m.count).toBe(m.missed.reduce((n, x) => n + x.count, 0));
      expect(m.reasons).toEqual(['queue-full']);
      expect(m.from <= m.to).toBe(true);
    }
  });

  it('each queries-missed entry stands in arrival order: after the requests recorded before the ones it counts, before those after', () => {
    expect(entries.some((e) => e.kind === 'queries-missed')).toBe(true);
    // Verified together on the pool, appended one by one in arrival order.
    const arrivals = entries.filter((e): e is QueryEntry => e.kind === 'query').map((e) => e.at);
    expect(arrivals).toEqual([...arrivals].sort());
    for (const [i, e] of entries.entries()) {
      if (e.kind !== 'queries-missed') continue;
      const before = entries.slice(0, i).filter((x): x is QueryEntry => x.kind === 'query').at(-1);
      const after = entries.slice(i + 1).find((x): x is QueryEntry => x.kind === 'query');
      if (before) expect(before.at <= e.from, `entry ${e.n}: a request recorded before it arrived after what it counts`).toBe(true);
      if (after) expect(e.to <= after.at, `entry ${e.n}: a request recorded after it arrived before what it counts`).toBe(true);
    }
  });

  it('audit verify passes over the ledger holding it; audit query shows it to the requester', async () => {
    const res = await cli(['audit', 'verify', '--dir', fed.trustDir, '--server', fed.server.url]);
    expect(res.out.at(-1)).toBe('ledger intact');
    expect(res.code).toBe(0);
    const rows = queryLedger(entries, { agency: 'xb-police' }).filter((r) => r.entry.kind === 'queries-missed');
    const counting = entries.filter((e) => e.kind === 'queries-missed' && e.missed.some((m) => m.requester === 'xb-police'));
    expect(counting.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.entry.n)).toEqual(counting.map((e) => e.n));
    expect(rows.every((r) => r.roles.includes('asked'))).toBe(true);
    expect(queryLedger(entries, { agency: 'mac-centre' }).some((r) => r.entry.kind === 'queries-missed')).toBe(false);
    const text = await cli(['audit', 'query', '--dir', fed.trustDir, '--server', fed.server.url, '--agency', 'xb-police']);
    expect(text.code).toBe(0);
    expect(text.out.some((l) => /REQUESTS NOT RECORDED.*xb-police documents\.DocumentCheckRequest ×\d+/.test(l))).toBe(true);
  });

  it('a forged or removed queries-missed entry fails verification', async () => {
    const stored: StoredEntry[] = await readLedger(fed.exchange.admin);
    const key = await readAuditPublicKey(fed.trustDir);
    const check = (s: StoredEntry[]) => verifyLedger(s, { publicKey: key.key, kid: key.jwk.kid! });
    expect(check(stored).ok).toBe(true);
    const i = stored.findIndex((s) => decodeEntry(s.data).kind === 'queries-missed');
    const e = decodeEntry(stored[i]!.data) as QueriesMissedEntry;
    const forged = stored.map((s, j) => (j === i ? { ...s, data: encodeEntry({ ...e, count: e.count - 1, missed: e.missed.map((m, k) => (k === 0 ? { ...m, count: m.count - 1 } : m)) }) } : s));
    // The rewritten entry no longer hashes to the next one's link; a checkpoint the audit signed after it (every 30 s)
    // says so too. Nothing else is reported: the rest of the chain is intact.
    const found = check(forged).problems;
    expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'hash-mismatch', entry: e.n })]));
    expect(found.filter((p) => !(p.kind === 'hash-mismatch' && p.entry === e.n) && !(p.kind === 'checkpoint-head' && p.entry! > e.n))).toEqual([]);
    const removed = stored.filter((_, j) => j !== i);
    expect(check(removed).problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'removed', entry: e.n })]));
    expect(check(removed).ok).toBe(false);
  });
});
