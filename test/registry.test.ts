import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { runCli } from '../services/cli/main.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
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

const report = (number: string, status = 'DOCUMENT_STATUS_STOLEN', country = 'XAA') => ({
  documentNumber: number,
  issuingCountry: country,
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status,
  holderName: 'Amir Haddad',
});

const STORES = [
  ['compact keyed-hash index', (key: Uint8Array) => new IndexDocumentStore(key)],
  ['map store', (key: Uint8Array) => new MapDocumentStore(key)],
] as const;

describe.each(STORES)('¶16 document registry (%s): reports, checks, hit notices, the issuing-country rule', (_label, makeStore) => {
  let fed: TestFederation;
  let registry: Registry;
  let police: LiaisonClient;
  let xbPolice: LiaisonClient;
  const policeInbox: ReceivedMessage[] = [];
  const xbInbox: ReceivedMessage[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: `registry-${_label.split(' ')[0]}` });
    const ncb = await fed.connect('xc-ncb');
    const key = randomBytes(32);
    registry = await startRegistry({ client: ncb, store: makeStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    police = await fed.connect('xa-border-police');
    xbPolice = await fed.connect('xb-police');
    await police.consume((m) => void policeInbox.push(m), { types: ['DocumentHitNotice', 'PersonHitNotice', 'RegistryRefusal'] });
    await xbPolice.consume((m) => void xbInbox.push(m), { types: ['DocumentHitNotice', 'RegistryRefusal'] });
  });
  afterAll(async () => {
    await registry?.stop();
    await fed?.stop();
  });

  it('a reported stolen passport hits, whatever separators and case the checker types; the owner is notified', async () => {
    const sent = await police.send('DocumentReport', report('XA4417702'));
    expect(await until(() => registry.stats.reports >= 1)).toBe(true);
    const result = await xbPolice.request('DocumentCheckRequest', {
      documentNumber: 'xa 441-7702',
      issuingCountry: 'xaa',
      checkLocation: 'Bellmark ferry terminal',
      presenterName: 'A. Haddad',
    });
    expect(result.body.outcome).toBe('CHECK_OUTCOME_HIT');
    expect(result.body.status).toBe('DOCUMENT_STATUS_STOLEN');
    expect(result.body.recordReference).toBe(sent.id);
    expect(await until(() => policeInbox.some((m) => m.type === 'DocumentHitNotice'))).toBe(true);
    const notice = policeInbox.find((m) => m.type === 'DocumentHitNotice')!;
    expect(notice.header.sender).toBe('xc-ncb');
    expect(notice.header.tier).toBe('personal');
    expect(notice.body).toMatchObject({ checkingAgency: 'xb-police', checkCountry: 'XBB', checkLocation: 'Bellmark ferry terminal', presenterName: 'A. Haddad' });
  });

  it('an unknown number does not hit', async () => {
    const result = await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA0000000', issuingCountry: 'XAA' });
    expect(result.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
  });

  it('a recovered document stops hitting at once', async () => {
    await police.send('DocumentReport', report('XA5550001'));
    expect(await until(() => registry.store.size >= 2)).toBe(true);
    expect((await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA5550001', issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_HIT');
    const changes = registry.stats.statusChanges;
    await police.send('DocumentStatusChange', { documentNumber: 'XA5550001', issuingCountry: 'XAA', newStatus: 'DOCUMENT_STATUS_RECOVERED' });
    expect(await until(() => registry.stats.statusChanges > changes)).toBe(true);
    const after = await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA5550001', issuingCountry: 'XAA' });
    expect(after.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
    expect(after.body.status).toBe('DOCUMENT_STATUS_RECOVERED');
  });

  it('an agency of another country cannot add or cancel a record: it gets a signed refusal, and nothing changes', async () => {
    const size = registry.store.size;
    const forged = await xbPolice.send('DocumentReport', report('XA9990009'));
    expect(await until(() => xbInbox.some((m) => m.type === 'RegistryRefusal' && m.body.refusedMessageId === forged.id))).toBe(true);
    const refusal = xbInbox.find((m) => m.body.refusedMessageId === forged.id)!;
    expect(refusal.header.sender).toBe('xc-ncb');
    expect(refusal.body.code).toBe('ERR_NOT_ISSUING_COUNTRY');
    expect(registry.store.size).toBe(size);
    const cancel = await xbPolice.send('DocumentStatusChange', { documentNumber: 'XA4417702', issuingCountry: 'XAA', newStatus: 'DOCUMENT_STATUS_CANCELLED' });
    expect(await until(() => xbInbox.some((m) => m.body.refusedMessageId === cancel.id))).toBe(true);
    expect((await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA4417702', issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_HIT');
  });

  it('a duplicate report is idempotent', async () => {
    const size = registry.store.size;
    const unchanged = registry.stats.unchanged;
    await police.send('DocumentReport', report('XA4417702'));
    expect(await until(() => registry.stats.unchanged > unchanged)).toBe(true);
    expect(registry.store.size).toBe(size);
  });

  it('a person alert is found by identifier, and by a transliteration variant of the name with the birth date; the owner is told', async () => {
    await police.send('PersonAlert', {
      alertReference: 'XA-PA-2026-17',
      subject: {
        name: { givenNames: 'Muhammad', familyName: 'al-Hasan' },
        aliases: [{ fullName: 'Abu Karim' }],
        birthDate: '1984-03-12',
        nationalities: ['XCC'],
        identifiers: [{ kind: 'IDENTIFIER_KIND_PASSPORT', value: 'XC 778 1234', issuingCountry: 'XCC' }],
      },
      basis: 'ALERT_BASIS_SUSPECTED',
      offences: ['PROTOCOL_OFFENCE_SMUGGLING'],
      requestedAction: 'Inform the issuing bureau; do not arrest without a warrant.',
    });
    expect(await until(() => registry.stats.alerts >= 1)).toBe(true);
    const byId = await xbPolice.request('PersonCheckRequest', {
      subject: { name: { fullName: 'M. Hassan' }, identifiers: [{ kind: 'IDENTIFIER_KIND_PASSPORT', value: 'xc7781234', issuingCountry: 'XCC' }] },
      checkLocation: 'Bellmark ferry terminal',
    });
    expect(byId.body).toMatchObject({ outcome: 'CHECK_OUTCOME_HIT', alertReference: 'XA-PA-2026-17', alertOwnerCountry: 'XAA', matchScore: 100 });
    expect(String((byId.body.matchReasons as string[]).join(' '))).toContain('identifier');
    const byName = await xbPolice.request('PersonCheckRequest', { subject: { name: { givenNames: 'Mohamed', familyName: 'Al Hassan' }, birthDate: '1984-03-12' } });
    expect(['CHECK_OUTCOME_HIT', 'CHECK_OUTCOME_POSSIBLE_HIT']).toContain(byName.body.outcome);
    expect(byName.body.alertReference).toBe('XA-PA-2026-17');
    expect((byName.body.matchReasons as string[]).length).toBeGreaterThan(0);
    const other = await xbPolice.request('PersonCheckRequest', { subject: { name: { givenNames: 'Elena', familyName: 'Petrova' }, birthDate: '1990-01-01' } });
    expect(other.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
    expect(await until(() => policeInbox.some((m) => m.type === 'PersonHitNotice'))).toBe(true);
    const notice = policeInbox.find((m) => m.type === 'PersonHitNotice')!;
    expect(notice.body).toMatchObject({ alertReference: 'XA-PA-2026-17', checkingAgency: 'xb-police', checkCountry: 'XBB' });
  });

  it('liaison check-document prints hit or no hit, answered and signed by the registry', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), interrupted: new Promise<void>(() => undefined) };
    const dir = fed.agencyDirs['xb-police']!;
    expect(await runCli(['check-document', '--as', dir, '--country', 'XAA', '--number', 'xa4417702', '--location', 'Bellmark port'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/^HIT: XAA xa4417702 — stolen/);
    expect(out.join('\n')).toContain('answered by xc-ncb');
    out.length = 0;
    expect(await runCli(['check-document', '--as', dir, '--country', 'XAA', '--number', 'XA1111111'], io)).toBe(0);
    expect(out[0]).toBe('no hit: XAA XA1111111');
    out.length = 0;
    expect(await runCli(['check-document', '--as', dir, '--country', 'Q1', '--number', 'XA1111111'], io)).toBe(1);
    expect(out.join('\n')).toContain('ERR_BODY_INVALID');
  });

  it('liaison check-person prints the outcome and the reasons it matched', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), interrupted: new Promise<void>(() => undefined) };
    const dir = fed.agencyDirs['xb-police']!;
    expect(await runCli(['check-person', '--as', dir, '--name', 'Mohammed Al-Hasan', '--passport', 'XCC:XC7781234'], io)).toBe(0);
    expect(out[0]).toMatch(/^hit: alert XA-PA-2026-17 of XAA \(score 100\)/);
    expect(out.join('\n')).toContain('reason: identifier');
    out.length = 0;
    expect(await runCli(['check-person', '--as', dir, '--name', 'Nobody Known', '--birth-date', '2001'], io)).toBe(0);
    expect(out[0]).toBe('no hit');
    expect(await runCli(['check-person', '--as', dir, '--name', 'X', '--passport', 'nocolon'], io)).toBe(2);
  });

  it('a malformed check gets a typed error and the registry keeps serving', async () => {
    await expect(xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA4417702', issuingCountry: 'ZZ9' })).rejects.toSatisfy((e: unknown) =>
      isLiaisonError(e, 'ERR_BODY_INVALID'),
    );
    await expect(xbPolice.request('DocumentCheckRequest', { documentNumber: '', issuingCountry: 'XAA' })).rejects.toSatisfy((e: unknown) =>
      isLiaisonError(e, 'ERR_BODY_INVALID'),
    );
    expect((await xbPolice.request('DocumentCheckRequest', { documentNumber: 'XA4417702', issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_HIT');
  });
});
