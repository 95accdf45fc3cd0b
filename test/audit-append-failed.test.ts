import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, LEDGER_STREAM, readLedger, type AuditService, type Entry, type QueriesMissedEntry } from '../services/audit/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { federationWithOwnAudit, type LoggedLine, publishCheck, sealCheck, type SignedCheck, tallyChecks, until } from './support/audit-checks.ts';
import type { TestFederation } from './support/federation.ts';

const AGENCIES = ['xa-border-police', 'xb-police'] as const;
/** Checks each agency publishes once the ledger is gone (all held: the queue's default bound is 4 096). */
const PER_AGENCY = 150;

describe("audit: a request whose entry is not stored is counted as missed ('append-failed'), in the next session's ledger (issue 16)", () => {
  let fed: TestFederation;
  let audit: AuditService;
  const clients: Partial<Record<string, LiaisonClient>> = {};
  const logged: LoggedLine[] = [];

  beforeAll(async () => {
    ({ fed, audit } = await federationWithOwnAudit({ name: 'audit-append-failed', agencies: AGENCIES, cryptoWorkers: 0, attach: true, logged, clients }));
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('the ledger stream deleted under the audit, then a burst of signed checks: every check is recorded by the next session or counted append-failed; recorded + counted = sent', async () => {
    const burst: [LiaisonClient, SignedCheck][] = AGENCIES.flatMap((agency) => Array.from({ length: PER_AGENCY }, (_, i) => [clients[agency]!, sealCheck(clients[agency]!, agency, i)] as [LiaisonClient, SignedCheck]));
    await audit.flush();
    // The ledger gone (deleted as the administrator): every append fails, the first request's entry among them.
    await (await jetstreamManager(fed.exchange.admin)).streams.delete(LEDGER_STREAM);
    for (const [c, check] of burst) publishCheck(c, check);
    await Promise.all(AGENCIES.map((a) => clients[a]!.nc.flush()));
    await until(() => audit.stats().restarts >= 1, 30_000, 'the writer fails and the session is replaced');
    await until(() => logged.some((l) => /resynchronised/.test(l.msg)), 30_000, 'a new session opens a new ledger');
    await audit.flush(60_000);
    await audit.checkpoint();

    expect(logged.some((l) => l.level === 50 && l.code === 'ERR_AUDIT_WRITE'), 'the writer failed').toBe(true);
    const entries: Entry[] = (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data));
    let counted = 0;
    for (const agency of AGENCIES) {
      const t = tallyChecks(entries, agency);
      const digests = new Set(burst.filter(([c]) => c === clients[agency]).map(([, check]) => check.digest));
      console.log(`${agency}: sent ${digests.size}, recorded ${t.recorded.length}, counted ${t.counted} (${t.reasons.join(', ') || 'none'})`);
      expect(new Set(t.recorded).size, `${agency}: each check recorded once`).toBe(t.recorded.length);
      for (const d of t.recorded) expect(digests.has(d), `${agency}: a recorded check is one sent`).toBe(true);
      expect(t.recorded.length + t.counted, `${agency}: recorded + counted as missed`).toBe(digests.size);
      counted += t.counted;
    }
    // The first check's entry was refused with the ledger: it, and the others in flight with it, are counted.
    const missed = entries.filter((e): e is QueriesMissedEntry => e.kind === 'queries-missed');
    expect(counted).toBeGreaterThan(0);
    expect(missed.flatMap((m) => m.reasons)).toContain('append-failed');
    expect(missed.reduce((n, m) => n + m.count, 0)).toBe(audit.stats().queries.missed);
  });
});
