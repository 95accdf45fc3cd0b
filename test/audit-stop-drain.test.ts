import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, readLedger, type AuditService, type Entry } from '../services/audit/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { federationWithOwnAudit, type LoggedLine, publishCheck, sealCheck, type SignedCheck, tallyChecks } from './support/audit-checks.ts';
import type { TestFederation } from './support/federation.ts';

const AGENCIES = ['xa-border-police', 'xb-police'] as const;
/**
 * Checks each agency publishes back to back. They arrive faster than the audit records them (each batch of 64 verified
 * on the crypto pool's thread, the pump waiting for it), so many are still held when the last one is seen.
 */
const PER_AGENCY = 300;
/** The stop's bound in this test. */
const STOP_BOUND_MS = 30_000;

describe('audit: requests held when stop() is called are recorded before it returns, within its bound (issue 16)', () => {
  let fed: TestFederation;
  let audit: AuditService;
  const clients: Partial<Record<string, LiaisonClient>> = {};
  const logged: LoggedLine[] = [];

  beforeAll(async () => {
    ({ fed, audit } = await federationWithOwnAudit({ name: 'audit-stop-drain', agencies: AGENCIES, cryptoWorkers: 1, attach: false, logged, clients }));
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a burst of signed checks seen but not yet recorded when the audit stops: every one is in the ledger once stop() returns, before its bound', async () => {
    const burst: [LiaisonClient, SignedCheck][] = AGENCIES.flatMap((agency) => Array.from({ length: PER_AGENCY }, (_, i) => [clients[agency]!, sealCheck(clients[agency]!, agency, i)] as [LiaisonClient, SignedCheck]));
    for (const [c, check] of burst) publishCheck(c, check);
    await Promise.all(AGENCIES.map((a) => clients[a]!.nc.flush()));
    // Every check seen by the audit: held, appended, or counted.
    const seen = () => {
      const s = audit.stats();
      return s.queries.held + (s.appended.query ?? 0) + s.queries.missed;
    };
    // Looked at on every turn of the event loop, so the stop comes right after the last check is seen; stop() closes
    // the listener before its first await: what was seen is exactly what it must record.
    const end = Date.now() + 60_000;
    while (seen() < burst.length) {
      if (Date.now() > end) throw new Error(`the audit saw ${seen()} of the ${burst.length} checks`);
      await new Promise((r) => setImmediate(r));
    }
    const heldAtStop = audit.stats().queries.held;
    const by = Date.now() + STOP_BOUND_MS;
    await audit.stop(by);
    const returnedAt = Date.now();
    console.log(`held at stop: ${heldAtStop} of ${burst.length}; stop took ${STOP_BOUND_MS - (by - returnedAt)} ms`);
    expect(heldAtStop, 'checks still held when stop() was called').toBeGreaterThan(0);
    expect(returnedAt, 'stop() returned within its bound').toBeLessThanOrEqual(by);
    expect(audit.stats().queries).toMatchObject({ held: 0, missed: 0 });
    expect(logged.some((l) => /stopped with requests not recorded/.test(l.msg))).toBe(false);

    const entries: Entry[] = (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data));
    for (const agency of AGENCIES) {
      const t = tallyChecks(entries, agency);
      const digests = new Set(burst.filter(([c]) => c === clients[agency]).map(([, check]) => check.digest));
      expect(t.counted, `${agency}: none counted as missed`).toBe(0);
      expect(new Set(t.recorded), `${agency}: every check recorded, once`).toEqual(digests);
      expect(t.recorded.length).toBe(digests.size);
    }
    // The stop's closing checkpoint comes after the last request recorded.
    expect(entries.at(-1)?.kind).toBe('checkpoint');
  });
});
