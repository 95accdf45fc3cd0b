import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { formatRegistryFigures } from '../services/cli/commands/registry-stats.ts';
import type { RegistryFigures } from '../services/registry/figures.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  return await pred();
};

async function cli(argv: string[], interrupted: Promise<void> = new Promise(() => undefined)) {
  const out: string[] = [];
  const err: string[] = [];
  const done = runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted });
  return { done, out, err };
}

const report = (number: string, status: string, type = 'DOCUMENT_TYPE_PASSPORT') => ({ documentNumber: number, issuingCountry: 'XAA', documentType: type, status: `DOCUMENT_STATUS_${status}` });

describe('liaison registry stats: the figures each registry replica writes next to its snapshot', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let checker: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-stats' });
    police = await fed.connect('xa-border-police');
    checker = await fed.connect('xb-police');
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('prints records by kind and status, checks, hits, refusals, the last snapshot and its positions, and memory per record', async () => {
    const ncbDir = fed.agencyDirs['xc-ncb']!;
    let stop!: () => void;
    const up = await cli(['registry', 'up', '--as', ncbDir, '--stats-every', '1', '--snapshot-every', '3600'], new Promise<void>((r) => (stop = r)));
    expect(await until(() => up.out.some((l) => l.startsWith('answering')))).toBe(true);
    expect(up.out[0]).toContain('object store xc-ncb_snapshots');

    await police.send('DocumentReport', report('XA2000001', 'STOLEN'));
    await police.send('DocumentReport', report('XA2000002', 'LOST'));
    await police.send('DocumentReport', report('XA2000003', 'LOST', 'DOCUMENT_TYPE_IDENTITY_CARD'));
    await checker.send('DocumentReport', report('XA2000004', 'STOLEN')); // not of the issuing country: refused
    const hit = async () => (await checker.request('DocumentCheckRequest', { documentNumber: 'XA2000001', issuingCountry: 'XAA' })).body.outcome;
    expect(await until(async () => (await hit()) === 'CHECK_OUTCOME_HIT')).toBe(true);
    expect((await checker.request('DocumentCheckRequest', { documentNumber: 'XA2999999', issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_NO_HIT');

    const stats = async () => {
      const s = await cli(['registry', 'stats', '--as', ncbDir, '--json']);
      expect(await s.done, s.err.join('\n')).toBe(0);
      return JSON.parse(s.out.join('')) as RegistryFigures[];
    };
    let f: RegistryFigures | undefined;
    expect(await until(async () => ((f = (await stats())[0]), f?.counters.refused === 1 && f.documents.total === 3), 20_000)).toBe(true);
    expect(f).toMatchObject({
      agency: 'xc-ncb',
      replica: 1,
      snapshotStore: 'object store xc-ncb_snapshots',
      documents: { total: 3, byKindAndStatus: { passport: { stolen: 1, lost: 1 }, identity_card: { lost: 1 } } },
      counters: { reports: 3, refused: 1 },
    });
    expect(f!.counters.checks).toBeGreaterThanOrEqual(2);
    expect(f!.counters.hits).toBeGreaterThanOrEqual(1);
    expect(f!.counters.checks - f!.counters.hits).toBeGreaterThanOrEqual(1);
    expect(f!.memory.bytesPerRecord).toBeGreaterThan(0);
    expect(f!.lastSnapshot).toBeUndefined();

    stop(); // registry up writes its snapshot on stop, then its figures
    expect(await up.done).toBe(0);
    const text = await cli(['registry', 'stats', '--as', ncbDir]);
    expect(await text.done).toBe(0);
    const out = text.out.join('\n');
    expect(out).toMatch(/^xc-ncb registry replica 1: figures of /);
    expect(out).toContain('documents  3 — identity_card lost 1; passport lost 1, stolen 1');
    expect(out).toMatch(/checks? answered, \d+ hits? .*1 refusal; applied 3 reports/);
    expect(out).toMatch(/snapshot {3}\S+ in object store xc-ncb_snapshots: 3 documents, 0 person alerts, .* covers .*xc-ncb.*@\d+/);
    expect(out).toContain('restored   nothing: no snapshot yet; full replay');
    expect(out).toMatch(/memory {5}index .* B\/document record/);
  }, 60_000);

  it('an agency without a running registry gets a one-line answer and exit 1', async () => {
    const s = await cli(['registry', 'stats', '--as', fed.agencyDirs['xa-border-police']!]);
    expect(await s.done).toBe(1);
    expect(s.err.join('\n')).toMatch(/^no registry figures in /);
  });

  it('figures a replica stopped rewriting are marked stale', () => {
    const f: RegistryFigures = {
      agency: 'xc-ncb',
      replica: 2,
      updatedAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:00.000Z',
      everyMs: 10_000,
      snapshotStore: 'object store xc-ncb_snapshots',
      documents: { total: 0, byKindAndStatus: {} },
      persons: 0,
      counters: { reports: 0, statusChanges: 0, alerts: 0, checks: 0, hits: 0, hitNotices: 0, refused: 0, unchanged: 0 },
      restored: { fromSnapshot: false, documents: 0, persons: 0, replayed: 4 },
      memory: { indexBytes: 0, bytesPerRecord: 0, rssBytes: 0, heapUsedBytes: 0, externalBytes: 0 },
    };
    expect(formatRegistryFigures(f, Date.parse(f.updatedAt) + 5_000)[0]).not.toContain('STALE');
    expect(formatRegistryFigures(f, Date.parse(f.updatedAt) + 60_000)[0]).toContain('STALE');
  });
});
