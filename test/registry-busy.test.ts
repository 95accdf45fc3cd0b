import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { OffsetClock } from '../services/sdk/clock.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import { formatRegistryFigures } from '../services/cli/commands/registry-stats.ts';
import type { RegistryFigures } from '../services/registry/figures.ts';
import { admitChecks, DOCUMENT_CHECK_RESULT, type AdmissionConfig } from '../services/registry/admission.ts';
import { MapDocumentStore } from '../services/registry/map-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

const STOLEN = { documentNumber: 'XA5550001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Amir Haddad' };
const CHECK = { documentNumber: 'XA5550001', issuingCountry: 'XAA' };

/** A check's fate: its outcome, or the code of the error it ended in. */
async function fate(client: LiaisonClient, timeoutMs: number): Promise<string> {
  try {
    const r = await client.request('DocumentCheckRequest', CHECK, { timeoutMs });
    return String(r.body.outcome);
  } catch (err) {
    return isLiaisonError(err) ? err.code : `untyped: ${String(err)}`;
  }
}

describe('¶16 registry: bounded admission of checks (issue 16)', () => {
  let fed: TestFederation;
  let ncb: LiaisonClient | undefined;
  let police: LiaisonClient;
  let xbPolice: LiaisonClient;
  let registry: Registry | undefined;

  const start = async (admission: AdmissionConfig, clock = new OffsetClock()) => {
    const key = randomBytes(32);
    ncb = await fed.connect('xc-ncb'); // a connection of its own: the previous registry's consumers went with the previous one
    registry = await startRegistry({ client: ncb, store: new MapDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)), admission, clock });
    await police.send('DocumentReport', STOLEN); // each registry here starts empty: report the record it is checked against
    expect(await until(() => registry!.stats.reports >= 1)).toBe(true);
    return registry;
  };

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-busy' });
    police = await fed.connect('xa-border-police');
    xbPolice = await fed.connect('xb-police');
  });
  afterEach(async () => {
    await registry?.stop();
    await ncb?.close();
    registry = undefined;
    ncb = undefined;
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a check that waited longer than the bound gets a signed busy refusal at once, raised as ERR_BUSY (not a timeout); fresh checks are answered', async () => {
    // The registry's clock runs 3 s ahead: every check it reaches looks 3 s old, past the 1 s bound.
    const clock = new OffsetClock();
    clock.advance(3_000);
    const reg = await start({ maxWaitMs: 1_000 }, clock);
    const t0 = Date.now();
    const err = await xbPolice.request('DocumentCheckRequest', CHECK, { timeoutMs: 4_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLiaisonError(err) && err.code).toBe('ERR_BUSY');
    expect(Date.now() - t0).toBeLessThan(3_000); // answered, not waited out
    expect((err as Error).message).toMatch(/xc-ncb refused to answer now \(busy, signed DocumentCheckResult .*waited \d+ ms/);
    expect(reg.stats.busyLate).toBe(1);
    expect(reg.stats.checks).toBe(0); // refused before the lookup
    // Person checks too: the busy PersonCheckResult carries its reason in requested_action.
    const personErr = await xbPolice.request('PersonCheckRequest', { subject: { name: { givenNames: 'Mohamed', familyName: 'Al Hassan' } } }, { timeoutMs: 4_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLiaisonError(personErr) && personErr.code).toBe('ERR_BUSY');
    expect((personErr as Error).message).toMatch(/busy, signed PersonCheckResult .*waited \d+ ms/);
    expect(reg.stats.busyLate).toBe(2);

    clock.advance(-3_000); // back in step: the same check is worked on and hits
    expect(await fate(xbPolice, 4_000)).toBe('CHECK_OUTCOME_HIT');
    expect(reg.stats.busyLate).toBe(2);
  });

  it('a burst of concurrent checks against a tiny bound: every one answered (hit or ERR_BUSY), none timing out, and the registry keeps answering', async () => {
    const reg = await start({ maxInProcess: 1, maxWaitMs: 50 });
    const burst = 400;
    const fates = await Promise.all(Array.from({ length: burst }, (_, i) => fate(i % 2 ? xbPolice : police, 20_000)));
    const counts: Record<string, number> = {};
    for (const f of fates) counts[f] = (counts[f] ?? 0) + 1;
    expect(Object.keys(counts).every((k) => k === 'CHECK_OUTCOME_HIT' || k === ('ERR_BUSY' satisfies ErrorCode)), JSON.stringify(counts)).toBe(true);
    expect(counts.ERR_BUSY ?? 0, JSON.stringify(counts)).toBeGreaterThan(0); // the bound was reached and enforced
    expect(reg.stats.busyLate + reg.stats.busyFull).toBe(counts.ERR_BUSY);
    // After the burst, a check is worked on again.
    await new Promise((r) => setTimeout(r, 200));
    expect(await fate(xbPolice, 4_000)).toBe('CHECK_OUTCOME_HIT');
  });
});

describe('admitChecks: at most N checks in process', () => {
  /** A received check, as the SDK's receive pipeline hands it to a handler. */
  const received = (id: string): ReceivedMessage =>
    ({ header: { id, createdAt: new Date() }, type: 'DocumentCheckRequest', family: 'documents', subject: '', body: {}, kid: '' }) as unknown as ReceivedMessage;

  it('a check beyond the limit is answered busy at once while the admitted ones are in process; the next one after they finish is admitted', async () => {
    const counters = { busyFull: 0, busyLate: 0 };
    const gates: (() => void)[] = [];
    const admitted: string[] = [];
    const handler = admitChecks(
      async (req) => {
        admitted.push(req.header.id);
        await new Promise<void>((r) => gates.push(r));
        return { type: 'DocumentCheckResult', body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT' } };
      },
      DOCUMENT_CHECK_RESULT,
      { config: { maxInProcess: 2 }, clock: { now: () => Date.now() }, counters },
    );
    const first = handler(received('a'));
    const second = handler(received('b'));
    // Answered at once (not after the admitted ones finish): a 1 s race stands in for "never answered".
    const third = await Promise.race([handler(received('c')), new Promise<never>((_, no) => setTimeout(() => no(new Error('the third check was not answered at once')), 1_000))]);
    expect(third.type).toBe('DocumentCheckResult');
    expect(third.body).toMatchObject({ requestId: 'c', outcome: 'CHECK_OUTCOME_BUSY', instructions: expect.stringMatching(/2 checks in process \(at most 2\)/) });
    expect(counters).toEqual({ busyFull: 1, busyLate: 0 });
    expect(admitted).toEqual(['a', 'b']);
    for (const g of gates) g();
    expect((await first).body).toMatchObject({ outcome: 'CHECK_OUTCOME_NO_HIT' });
    await second;
    const fourth = handler(received('d'));
    expect(admitted).toEqual(['a', 'b', 'd']);
    gates.at(-1)!();
    expect((await fourth).body).toMatchObject({ requestId: 'd', outcome: 'CHECK_OUTCOME_NO_HIT' });
  });
});

describe('liaison registry stats: busy refusals', () => {
  const figures = (busy?: number): RegistryFigures => ({
    agency: 'xc-ncb',
    replica: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    everyMs: 10_000,
    snapshotStore: 'object store xc-ncb_snapshots',
    documents: { total: 0, byKindAndStatus: {} },
    persons: 0,
    counters: { reports: 0, statusChanges: 0, alerts: 0, checks: 5, hits: 1, hitNotices: 1, refused: 0, unchanged: 0, ...(busy === undefined ? {} : { busy }) },
    restored: { fromSnapshot: false, documents: 0, persons: 0, replayed: 4 },
    memory: { indexBytes: 0, bytesPerRecord: 0, rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 },
  });

  it('the figures line counts the checks refused busy, and says nothing of busy when none were (or an older replica wrote the figures)', () => {
    expect(formatRegistryFigures(figures(7)).join('\n')).toContain('7 checks refused busy');
    expect(formatRegistryFigures(figures(0)).join('\n')).not.toContain('busy');
    expect(formatRegistryFigures(figures()).join('\n')).not.toContain('busy');
  });
});
