import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { runRegistry } from '../services/registry/run.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

/** A forgery alert by Xandria's border police on counterfeit Bellmark passports of series P12, numbers 00000–49999. */
const alert = (overrides: Record<string, unknown> = {}) => ({
  alertReference: 'XA-FA-2026-05',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  issuingCountry: 'XBB',
  fraudKind: 'FRAUD_KIND_COUNTERFEIT',
  affectedRanges: [{ series: 'P12', firstNumber: '00000', lastNumber: '49999' }],
  features: ['laminate lifts at the photo corner'],
  ...overrides,
});

describe('¶12 forgery alerts flag registry checks whose number falls in an alerted range (¶16)', () => {
  let fed: TestFederation;
  let registry: Registry;
  let police: LiaisonClient;
  let checker: LiaisonClient;
  const refusals: ReceivedMessage[] = [];
  const notices: ReceivedMessage[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'forgery-alerts' });
    const ncb = await fed.connect('xc-ncb');
    const key = randomBytes(32);
    registry = await startRegistry({ client: ncb, store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    police = await fed.connect('xa-border-police');
    checker = await fed.connect('xb-police');
    await police.consume((m) => void (m.type === 'RegistryRefusal' ? refusals : notices).push(m), { types: ['RegistryRefusal', 'DocumentHitNotice'] });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await fed?.stop();
  });

  const check = (documentNumber: string, extra: Record<string, unknown> = {}) =>
    checker.request('DocumentCheckRequest', { documentNumber, issuingCountry: 'XBB', documentType: 'DOCUMENT_TYPE_PASSPORT', checkLocation: 'Port Alba', ...extra });

  it('a check in the range hits on the alert ("alerted: forgery alert <ref>"), the alerting agency is told; the range ends are inclusive; outside it, nothing', async () => {
    const before = await check('P1212345');
    expect(before.body.outcome).toBe('CHECK_OUTCOME_NO_HIT');
    expect(before.body.forgeryAlerts ?? []).toEqual([]);

    await police.send('ForgeryAlert', alert(), { to: 'all' });
    await until(() => registry.alerted.size === 1);

    for (const number of ['P1212345', 'p12-00000', 'P12 49999']) {
      const r = await check(number);
      expect(r.body, number).toMatchObject({ outcome: 'CHECK_OUTCOME_HIT', status: 'DOCUMENT_STATUS_FRAUDULENT', recordReference: 'XA-FA-2026-05', forgeryAlerts: ['alerted: forgery alert XA-FA-2026-05'] });
      expect(String(r.body.instructions)).toContain('alerted: forgery alert XA-FA-2026-05');
    }
    // The agency that raised the alert learns where its series turned up.
    await until(() => notices.some((m) => m.body.documentNumber === 'P1212345'));
    expect(notices.find((m) => m.body.documentNumber === 'P1212345')!.body).toMatchObject({ recordReference: 'XA-FA-2026-05', issuingCountry: 'XBB', checkingAgency: 'xb-police', checkLocation: 'Port Alba' });
    // Just outside, another series, another length, another issuing state, another document type.
    for (const [number, extra] of [
      ['P1250000', {}],
      ['P1312345', {}],
      ['P121234', {}],
      ['P12123456', {}],
      ['P1212345', { issuingCountry: 'XAA' }],
      ['P1212345', { documentType: 'DOCUMENT_TYPE_IDENTITY_CARD' }],
    ] as const) {
      const r = await check(number, extra);
      expect(r.body.outcome, `${number} ${JSON.stringify(extra)}`).toBe('CHECK_OUTCOME_NO_HIT');
      expect(r.body.forgeryAlerts ?? [], `${number} ${JSON.stringify(extra)}`).toEqual([]);
    }
    // A check that does not state the document type is still flagged.
    expect((await check('P1212345', { documentType: 'DOCUMENT_TYPE_UNSPECIFIED' })).body.forgeryAlerts).toEqual(['alerted: forgery alert XA-FA-2026-05']);
  });

  it('a record hit in an alerted range keeps its hit and carries the alert too', async () => {
    // Bellmark itself reports a stolen passport in the range.
    await checker.send('DocumentReport', { documentNumber: 'P1244444', issuingCountry: 'XBB', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' });
    await until(() => registry.stats.reports >= 1);
    const r = await check('P1244444');
    expect(r.body).toMatchObject({ outcome: 'CHECK_OUTCOME_HIT', status: 'DOCUMENT_STATUS_STOLEN', forgeryAlerts: ['alerted: forgery alert XA-FA-2026-05'] });
  });

  it('a retracted alert stops flagging; a bad range is refused to its sender and adds nothing', async () => {
    const second = await police.send('ForgeryAlert', alert({ alertReference: 'XA-FA-2026-06', affectedRanges: [{ series: 'B', firstNumber: '100', lastNumber: '199' }] }), { to: 'all' });
    await until(() => registry.alerted.size === 2);
    expect((await check('B150')).body.forgeryAlerts).toEqual(['alerted: forgery alert XA-FA-2026-06']);
    await police.retract(second.id, 'issued in error');
    await until(() => registry.alerted.size === 1);
    expect((await check('B150')).body.forgeryAlerts ?? []).toEqual([]);

    const bad = await police.send('ForgeryAlert', alert({ alertReference: 'XA-FA-2026-07', affectedRanges: [{ series: 'C', firstNumber: '200', lastNumber: '1' }] }), { to: 'all' });
    await until(() => refusals.some((m) => m.body.refusedMessageId === bad.id));
    expect(refusals.find((m) => m.body.refusedMessageId === bad.id)!.body).toMatchObject({ code: 'ERR_BODY_INVALID' });
    expect(registry.alerted.size).toBe(1);
  });
});

describe('forgery-alert ranges survive a registry restart from its snapshot', () => {
  let fed: TestFederation;
  let stateDir: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'forgery-alerts-restart' });
    stateDir = await mkdtemp(join(tmpdir(), 'liaison-alerts-state-'));
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('an alert applied before the snapshot still flags checks after a crash and a restart that replays only the tail', async () => {
    const police = await fed.connect('xa-border-police');
    const checker = await fed.connect('xb-police');
    const ncb1 = await fed.connect('xc-ncb');
    const r1 = await runRegistry({ client: ncb1, stateDir });
    await police.send('ForgeryAlert', alert(), { to: 'all' });
    await until(() => r1.alerted.size === 1);
    await r1.snapshot();
    await ncb1.close(); // a crash after the snapshot
    const ncb2 = await fed.connect('xc-ncb');
    const r2 = await runRegistry({ client: ncb2, stateDir });
    try {
      expect(r2.restored.snapshotRefused).toBeUndefined();
      await until(() => r2.alerted.size === 1, 8_000, 'the alert replayed');
      const r = await checker.request('DocumentCheckRequest', { documentNumber: 'P1212345', issuingCountry: 'XBB', documentType: 'DOCUMENT_TYPE_PASSPORT' });
      expect(r.body).toMatchObject({ outcome: 'CHECK_OUTCOME_HIT', forgeryAlerts: ['alerted: forgery alert XA-FA-2026-05'] });
    } finally {
      await r2.stop();
      await ncb2.close();
    }
  });
});
