import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRegistry } from '../services/registry/run.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

const report = (number: string) => ({ documentNumber: number, issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' });

describe('registry restart: snapshot + replay of only the tail gives the same answers', () => {
  let fed: TestFederation;
  let stateDir: string;
  let police: LiaisonClient;
  let checker: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-restart' });
    stateDir = await mkdtemp(join(tmpdir(), 'liaison-registry-state-'));
    police = await fed.connect('xa-border-police');
    checker = await fed.connect('xb-police');
  });
  afterAll(async () => {
    await fed?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const answers = async () => {
    const docs = await Promise.all(
      ['XA1000001', 'XA1000002', 'XA1000003', 'XA9999999'].map(async (n) => {
        const r = await checker.request('DocumentCheckRequest', { documentNumber: n, issuingCountry: 'XAA' });
        return `${n}:${String(r.body.outcome)}:${String(r.body.status ?? '')}:${String(r.body.recordReference ?? '')}`;
      }),
    );
    const person = await checker.request('PersonCheckRequest', { subject: { name: { givenNames: 'Yusuf', familyName: 'Karimov' }, birthDate: '1979-07-01' } });
    return [...docs, `person:${String(person.body.outcome)}:${String(person.body.alertReference ?? '')}`];
  };

  it('after a crash, the restarted registry loads the snapshot, replays the tail, and answers as before', async () => {
    const ncb1 = await fed.connect('xc-ncb');
    const r1 = await runRegistry({ client: ncb1, stateDir });
    expect(r1.restored.documents).toBe(0);
    await police.send('DocumentReport', report('XA1000001'));
    await police.send('DocumentReport', report('XA1000002'));
    await police.send('PersonAlert', { alertReference: 'XA-PA-7', subject: { name: { givenNames: 'Yusuf', familyName: 'Karimov' }, birthDate: '1979-07-01' } });
    expect(await until(() => r1.stats.reports >= 2 && r1.stats.alerts >= 1)).toBe(true);
    await r1.snapshot();
    expect((await stat(join(stateDir, 'registry.key'))).mode & 0o777).toBe(0o600);
    // After the snapshot: a new record and a status change that only the stream holds.
    await police.send('DocumentReport', report('XA1000003'));
    await police.send('DocumentStatusChange', { documentNumber: 'XA1000001', issuingCountry: 'XAA', newStatus: 'DOCUMENT_STATUS_RECOVERED' });
    expect(await until(() => r1.stats.reports >= 3 && r1.stats.statusChanges >= 1)).toBe(true);
    const before = await answers();
    expect(before[0]).toContain('NO_HIT');
    expect(before[2]).toContain(':CHECK_OUTCOME_HIT:');
    await ncb1.close(); // a crash: no final snapshot

    const ncb2 = await fed.connect('xc-ncb');
    const r2 = await runRegistry({ client: ncb2, stateDir });
    expect(r2.restored.documents).toBe(2);
    expect(r2.restored.persons).toBe(1);
    expect(r2.restored.replayed.length).toBeGreaterThan(0);
    expect(await until(() => r2.stats.reports >= 1 && r2.stats.statusChanges >= 1)).toBe(true);
    // Only the tail was replayed, not the whole stream.
    expect(r2.stats.reports).toBe(1);
    expect(await answers()).toEqual(before);
    await r2.stop();
  });
});
