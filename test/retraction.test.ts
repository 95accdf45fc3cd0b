import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { codeOfAsync as refused } from './support/outcome.ts';

const until = async (pred: () => boolean | Promise<boolean>, ms = 8_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return await pred();
};

const report = (number: string) => ({
  documentNumber: number,
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_STOLEN',
  holderName: 'Amir Haddad',
});

describe('retraction and correction (issue 6)', () => {
  let fed: TestFederation;
  let registry: Registry;
  let police: LiaisonClient;
  let xb: LiaisonClient;
  const policeInbox: ReceivedMessage[] = [];
  const xbInbox: ReceivedMessage[] = [];
  const out: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), interrupted: new Promise<void>(() => undefined) };

  const hits = async (number: string) => (await xb.request('DocumentCheckRequest', { documentNumber: number, issuingCountry: 'XAA' })).body.outcome === 'CHECK_OUTCOME_HIT';

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb', 'xa-coast-guard'], name: 'retraction' });
    const ncb = await fed.connect('xc-ncb');
    const key = randomBytes(32);
    registry = await startRegistry({ client: ncb, store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    police = await fed.connect('xa-border-police');
    xb = await fed.connect('xb-police');
    await police.consume((m) => void policeInbox.push(m));
    await xb.consume((m) => void xbInbox.push(m));
  });
  afterAll(async () => {
    await registry?.stop();
    await fed?.stop();
  });

  it('a broadcast retraction reaches every prior recipient, each acknowledges with a signed receipt, --status shows them; the document stops hitting', async () => {
    const sent = await police.send('DocumentReport', report('XA7000001'));
    expect(await until(() => registry.stats.reports >= 1 && xbInbox.some((m) => m.header.id === sent.id))).toBe(true);
    expect(await hits('XA7000001')).toBe(true);

    const o = await police.retract(sent.id, 'reported in error');
    expect(o.failed).toEqual([]);
    expect(o.record.copies.length).toBeGreaterThan(0);
    expect(o.record.recipients.map((r) => r.agency)).toEqual(['xb-police', 'xc-ncb']);
    expect(Object.keys(o.sent).sort()).toEqual(['xb-police', 'xc-ncb']);

    expect(await until(() => xbInbox.some((m) => m.type === 'Retraction' && m.body.originalId === sent.id))).toBe(true);
    const retraction = xbInbox.find((m) => m.type === 'Retraction')!;
    expect(retraction.header).toMatchObject({ sender: 'xa-border-police', recipient: 'xb-police', tier: 'operational', causationId: sent.id });
    expect(retraction.body).toMatchObject({ originalType: 'DocumentReport', reason: 'reported in error' });

    expect(await until(() => registry.stats.withdrawn >= 1)).toBe(true);
    expect(await hits('XA7000001')).toBe(false);

    // Receipts: signed by each recipient, delivered to the original sender, and recorded by the exchange.
    expect(await until(() => new Set(policeInbox.filter((m) => m.type === 'RetractionReceipt' && m.body.originalId === sent.id).map((m) => m.header.sender)).size === 2)).toBe(true);
    const receipt = policeInbox.find((m) => m.type === 'RetractionReceipt' && m.header.sender === 'xb-police')!;
    expect(receipt.body).toMatchObject({ retractionId: retraction.header.id, status: 'RETRACTION_OUTCOME_APPLIED' });
    expect(await until(async () => (await police.retractionStatus(sent.id)).recipients.every((r) => r.acknowledgedAt))).toBe(true);

    out.length = 0;
    expect(await runCli(['retract', '--as', fed.agencyDirs['xa-border-police']!, sent.id, '--status'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/xb-police\s+acknowledged/);
    expect(out.join('\n')).toMatch(/xc-ncb\s+acknowledged/);
    expect(out.at(-1)).toBe('2/2 acknowledged');

    // liaison explain: the ledger's copies of the original, and the exchange's retraction with each receipt.
    await fed.exchange.audit!.flush();
    out.length = 0;
    expect(await runCli(['explain', '--dir', fed.trustDir, '--server', fed.server.url, sent.id], io)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(`RETRACTED by xa-border-police`);
    expect(text).toContain('reported in error');
    expect(text).toMatch(/xb-police\s+Retraction \S+\s+receipt ✓/);
    expect(text).toMatch(/xc-ncb\s+Retraction \S+\s+receipt ✓/);
  });

  it('a directed message is retracted at its one recipient', async () => {
    const sent = await police.send('IntelligenceReport', { summary: 'Vessel sighted, wrong position' }, { to: 'xb-police' });
    expect(await until(() => xbInbox.some((m) => m.header.id === sent.id))).toBe(true);
    out.length = 0;
    expect(await runCli(['retract', '--as', fed.agencyDirs['xa-border-police']!, sent.id, '--reason', 'wrong position'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/xb-police\s+personal\s+retraction .* sent/);
    const status = await police.retractionStatus(sent.id);
    expect(status.recipients.map((r) => r.agency)).toEqual(['xb-police']);
    expect(await until(() => xbInbox.some((m) => m.type === 'Retraction' && m.body.originalId === sent.id))).toBe(true);
    expect(await until(async () => (await police.retractionStatus(sent.id)).recipients[0]!.acknowledgedAt !== undefined)).toBe(true);
  });

  it('only the original sender may retract or correct: another agency is refused with a typed error, and nothing changes', async () => {
    const sent = await police.send('DocumentReport', report('XA7000002'));
    expect(await until(() => xbInbox.some((m) => m.header.id === sent.id))).toBe(true);
    expect(await refused(xb.retract(sent.id, 'not mine'))).toBe('ERR_RETRACT_NOT_SENDER');
    expect(await refused(xb.correct(sent.id, report('XA7000003')))).toBe('ERR_RETRACT_NOT_SENDER');
    expect(await until(() => hits('XA7000002'))).toBe(true);
    // Once retracted by its sender, the record is refused to others too.
    await police.retract(sent.id, 'withdrawn');
    expect(await refused(xb.retractionStatus(sent.id))).toBe('ERR_RETRACT_NOT_SENDER');
    expect(await refused(police.retract('0190a0a0-0000-7000-8000-000000000000', 'never sent'))).toBe('ERR_RETRACT_UNKNOWN');
    out.length = 0;
    expect(await runCli(['retract', '--as', fed.agencyDirs['xb-police']!, sent.id, '--reason', 'x'], io)).not.toBe(0);
    expect(out.join('\n')).toContain('ERR_RETRACT_NOT_SENDER');
  });

  it('a retracted message is not delivered again: not on a replay, nor to a consumer that had not read it yet', async () => {
    const consumer = 'xa-coast-guard__IntelligenceReport__all';
    const keep = await police.send('IntelligenceReport', { summary: 'Vessel ALFA heading north' });
    const wrong = await police.send('IntelligenceReport', { summary: 'Vessel BRAVO (wrong name)' });
    const coast1 = await fed.connect('xa-coast-guard');
    const first: string[] = [];
    await until(async () => {
      await coast1.drain((m) => void first.push(m.header.id), { types: ['IntelligenceReport'], expiresMs: 1_000 });
      return first.includes(keep.id) && first.includes(wrong.id);
    });
    expect(first).toEqual(expect.arrayContaining([keep.id, wrong.id]));
    const o = await police.retract(wrong.id, 'wrong vessel name');
    expect(o.record.recipients.map((r) => r.agency)).toContain('xa-coast-guard');
    await coast1.close();

    // Not yet read by the coast guard when retracted: it never gets it, and is not asked for a receipt.
    const unread = await police.send('IntelligenceReport', { summary: 'Vessel CHARLIE (duplicate)' });
    expect(await until(() => xbInbox.some((m) => m.header.id === unread.id))).toBe(true);
    const o2 = await police.retract(unread.id, 'duplicate');
    expect(o2.record.withheld).toContain('xa-coast-guard');
    expect(o2.record.recipients.map((r) => r.agency)).not.toContain('xa-coast-guard');

    // A fresh process (no memory of the retraction) replays its consumer from the start.
    const coast2 = await fed.connect('xa-coast-guard');
    expect(await coast2.replayFrom({ [consumer]: 1 })).toEqual([consumer]);
    const replayed: string[] = [];
    await coast2.drain((m) => void replayed.push(m.header.id), { types: ['IntelligenceReport'], expiresMs: 1_000 });
    expect(replayed).toContain(keep.id);
    expect(replayed).not.toContain(wrong.id);
    expect(replayed).not.toContain(unread.id);
  });

  it('a correction delivers the corrected body as a new message and retracts the original, naming its replacement', async () => {
    const sent = await police.send('DocumentReport', report('XA7000010'));
    expect(await until(async () => xbInbox.some((m) => m.header.id === sent.id) && (await hits('XA7000010')))).toBe(true);
    out.length = 0;
    const dir = fed.agencyDirs['xa-border-police']!;
    expect(await runCli(['correct', '--as', dir, sent.id, '--json', JSON.stringify(report('XA7000011')), '--reason', 'typo in the number'], io)).toBe(0);
    const correctedId = /replaced by (\S+)/.exec(out[0]!)![1]!;

    expect(await until(() => xbInbox.some((m) => m.header.id === correctedId))).toBe(true);
    const corrected = xbInbox.find((m) => m.header.id === correctedId)!;
    expect(corrected.type).toBe('DocumentReport');
    expect(corrected.header.causationId).toBe(sent.id);
    expect(corrected.body.documentNumber).toBe('XA7000011');
    expect(await until(() => xbInbox.some((m) => m.type === 'Retraction' && m.body.originalId === sent.id && m.body.replacedBy === correctedId))).toBe(true);

    expect(await until(async () => !(await hits('XA7000010')) && (await hits('XA7000011')))).toBe(true);
    expect(await until(async () => (await police.retractionStatus(sent.id)).recipients.every((r) => r.acknowledgedAt))).toBe(true);
  });

  it('a forged Retraction (not from the sender) does not make the receiving SDK drop the message it names', async () => {
    const cg = await fed.connect('xa-coast-guard');
    const inbox: ReceivedMessage[] = [];
    await cg.consume((m) => void inbox.push(m), { types: ['Retraction'] });
    const sent = await police.send('IntelligenceReport', { summary: 'Boat landed at night.', location: 'Port Zeta' });
    // xb-police forges a Retraction of the border police's report, addressed to the coast guard.
    await xb.send('Retraction', { originalId: sent.id, originalType: 'IntelligenceReport', reason: 'forged' }, { to: 'xa-coast-guard' });
    expect(await until(() => inbox.some((m) => m.type === 'Retraction' && m.body.originalId === sent.id))).toBe(true);
    // Only now does the coast guard read its intelligence: the report still reaches its handler.
    await cg.consume((m) => void inbox.push(m), { types: ['IntelligenceReport'] });
    expect(await until(() => inbox.some((m) => m.header.id === sent.id))).toBe(true);
  });

  it('a retracted status change is undone at the registry: the passport wrongly declared recovered hits again; a forged retraction changes nothing', async () => {
    const sent = await police.send('DocumentReport', report('XA7000200'));
    expect(await until(async () => await hits('XA7000200'))).toBe(true);
    const change = await police.send('DocumentStatusChange', { documentNumber: 'XA7000200', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', newStatus: 'DOCUMENT_STATUS_RECOVERED' });
    expect(await until(async () => !(await hits('XA7000200')))).toBe(true);

    // Another agency forges Retractions of the report and of the change: the registry ignores both.
    const withdrawn = registry.stats.withdrawn;
    for (const [id, type] of [[sent.id, 'DocumentReport'], [change.id, 'DocumentStatusChange']]) {
      await xb.send('Retraction', { originalId: id, originalType: type, reason: 'forged' }, { to: 'xc-ncb' });
    }
    // The registry has handled both (its SDK acknowledged them to the forger)…
    const receipted = (id: string) => xbInbox.some((m) => m.type === 'RetractionReceipt' && m.body.originalId === id && m.header.sender === 'xc-ncb');
    expect(await until(() => receipted(sent.id) && receipted(change.id))).toBe(true);
    // …and withdrew nothing.
    expect(registry.stats.withdrawn).toBe(withdrawn);
    expect(await hits('XA7000200')).toBe(false);

    await police.retract(change.id, 'recovered in error: the document is still missing');
    expect(await until(async () => await hits('XA7000200'))).toBe(true);
    expect(registry.stats.withdrawn).toBe(withdrawn + 1);
  });
});
