import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, entrySubject, readChainHead, readLedger, type AuditService, type Entry, type StartEntry } from '../services/audit/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { federationWithOwnAudit, type LoggedLine, publishCheck, sealCheck, tallyChecks, until } from './support/audit-checks.ts';
import type { TestFederation } from './support/federation.ts';

const AGENCIES = ['xa-border-police', 'xb-police'] as const;
/** Pause between two checks of one agency: a steady flow, so requests arrive all through the session's replacement. */
const PACE_MS = 4;

describe('audit: requests that arrive while a failed session is replaced are recorded or counted (issue 16)', () => {
  let fed: TestFederation;
  let audit: AuditService;
  const clients: Partial<Record<string, LiaisonClient>> = {};
  const sent: Record<string, Set<string>> = Object.fromEntries(AGENCIES.map((a) => [a, new Set<string>()]));
  const logged: LoggedLine[] = [];

  beforeAll(async () => {
    ({ fed, audit } = await federationWithOwnAudit({ name: 'audit-session-replaced', agencies: AGENCIES, cryptoWorkers: 0, attach: true, logged, clients }));
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a second writer breaks the ledger under a flow of signed checks: the session is replaced, and recorded + counted = sent for each requester', async () => {
    let sending = true;
    const flow = Promise.all(
      AGENCIES.map(async (agency) => {
        const c = clients[agency]!;
        for (let i = 0; sending; i++) {
          const check = sealCheck(c, agency, i);
          sent[agency]!.add(check.digest);
          publishCheck(c, check);
          await new Promise((r) => setTimeout(r, PACE_MS));
        }
        await c.nc.flush();
      }),
    );
    try {
      await until(() => (audit.stats().appended.query ?? 0) >= 20, 30_000, 'the first session records checks');
      // Another writer appends to the ledger (as the exchange administrator, without the audit's expected last
      // sequence): the audit's next append finds the ledger changed underneath and its writer fails for real.
      const head = await readChainHead(fed.exchange.admin);
      const foreign: StartEntry = { v: 1, n: head.n + 1, prev: head.hash, kind: 'start', at: new Date().toISOString(), kid: 'a-second-writer', positions: {} };
      await jetstream(fed.exchange.admin).publish(entrySubject(foreign), encodeEntry(foreign));
      await until(() => audit.stats().restarts >= 1, 30_000, 'the writer fails and the session is replaced');
      await until(() => logged.some((l) => /resynchronised/.test(l.msg)), 30_000, 'a new session resumes from the ledger');
      // The counts are the new writer's: checks keep coming, and the new session records them.
      await until(() => (audit.stats().appended.query ?? 0) >= 20, 30_000, 'the new session records checks');
    } finally {
      sending = false;
      await flow;
    }
    await audit.flush(60_000);
    await audit.checkpoint();
    const entries: Entry[] = (await readLedger(fed.exchange.admin)).map((s) => decodeEntry(s.data));
    // Once, as a rule: a second replacement (an old in-flight entry stored after the new writer read the head) would
    // keep the promise too, so it is not what is asserted.
    expect(audit.stats().restarts).toBeGreaterThanOrEqual(1);
    expect(entries.filter((e) => e.kind === 'start' && e.kid === 'a-second-writer')).toHaveLength(1);
    for (const agency of AGENCIES) {
      const t = tallyChecks(entries, agency);
      const digests = sent[agency]!;
      console.log(`${agency}: sent ${digests.size}, recorded ${t.recorded.length}, counted ${t.counted} (${t.reasons.join(', ') || 'none'})`);
      expect(new Set(t.recorded).size, `${agency}: each check recorded once`).toBe(t.recorded.length);
      for (const d of t.recorded) expect(digests.has(d), `${agency}: a recorded check is one sent`).toBe(true);
      expect(t.recorded.length + t.counted, `${agency}: recorded + counted as missed`).toBe(digests.size);
    }
  });
});
