/**
 * Send plans remembered per policy (services/sdk/policy/send-plans.ts, issue 16 item 3): sealing the
 * same kind of send again reuses the policy's plan instead of deciding it from the whole policy each
 * time; a new policy decides afresh (a receiver added or dropped changes the copies at once); a
 * refusal is never remembered; what is remembered cannot be changed by a caller.
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEnvelopeCodec, type EnvelopeCodec } from '../services/sdk/envelope/codec.ts';
import { sealMessage, type SealContext } from '../services/sdk/envelope/seal.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { parsePolicy, type Policy } from '../services/sdk/policy/index.ts';
import { MAX_SEND_PLANS, plannedSend, SEND_PLAN_TTL_MS, sendPlanStats } from '../services/sdk/policy/send-plans.ts';
import { loadCatalog, type Catalog } from '../services/sdk/schema/index.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';

const POLICY = `
version: 1
name: send-plans-unit
roles:
  police:
    send: [DocumentReport, CaseReferral]
  ngo:
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: any
      - types: [CaseReferral]
        tier: personal
        scope: direct
  watch:
    receive:
      - types: [CaseReferral]
        tier: operational
        scope: observe
agencies:
  xa-police: { name: Xandria Police, country: XAA, roles: [police] }
  xb-ngo: { name: Bellmark Harbour NGO, country: XBB, roles: [ngo] }
  xc-ngo: { name: Carrow NGO, country: XCC, roles: [ngo] }
  xa-watch: { name: Xandria Oversight, country: XAA, roles: [watch] }
`;

const REPORT = { documentNumber: 'XA1234567', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' };

describe('send plans remembered per policy', () => {
  let catalog: Catalog;
  let codec: EnvelopeCodec;
  let policy: Policy;
  const key = { privateKey: generateKeyPairSync('ed25519').privateKey, kid: 'k1' };
  const clock = { now: () => Date.parse('2026-11-28T12:00:00Z') };
  const parse = (text: string) => parsePolicy(text, { file: 'unit.yaml', catalog: typeCatalogOf(catalog) });
  const ctx = (p: Policy): SealContext => ({ catalog, codec, policy: p, sender: 'xa-police', key, clock });

  beforeAll(() => {
    catalog = loadCatalog();
    codec = createEnvelopeCodec(catalog.envelopeTypes);
    policy = parse(POLICY);
  });

  it('sealing the same send 50 times decides its plan once: the policy is not walked per message', () => {
    const before = { ...sendPlanStats };
    for (let i = 0; i < 50; i++) {
      const sealed = sealMessage(ctx(policy), 'CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: `s${i}`, consentRecorded: true }, { to: 'xb-ngo' });
      expect(sealed.copies.map((c) => [c.tier, c.recipients])).toEqual([
        ['operational', ['xa-watch']],
        ['personal', ['xb-ngo']],
      ]);
    }
    expect(sendPlanStats.decided - before.decided).toBe(1);
    expect(sendPlanStats.reused - before.reused).toBe(49);
    // Another recipient or other markings are another plan.
    sealMessage(ctx(policy), 'CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'x', consentRecorded: true }, { to: 'xc-ngo' });
    sealMessage(ctx(policy), 'DocumentReport', REPORT, { tlp: 'AMBER' });
    expect(sendPlanStats.decided - before.decided).toBe(3);
  });

  it('a new policy decides afresh: an agency added as a broadcast receiver gets its copy at once', () => {
    const first = sealMessage(ctx(policy), 'DocumentReport', REPORT);
    expect(first.copies.flatMap((c) => c.recipients).sort()).toEqual(['xb-ngo', 'xc-ngo']);
    const grown = parse(`${POLICY}  xd-ngo: { name: Dorran NGO, country: XDD, roles: [ngo] }\n`);
    const second = sealMessage(ctx(grown), 'DocumentReport', REPORT);
    expect(second.copies.flatMap((c) => c.recipients).sort()).toEqual(['xb-ngo', 'xc-ngo', 'xd-ngo']);
    const shrunk = parse(POLICY.replace("  xc-ngo: { name: Carrow NGO, country: XCC, roles: [ngo] }\n", ''));
    expect(sealMessage(ctx(shrunk), 'DocumentReport', REPORT).copies.flatMap((c) => c.recipients)).toEqual(['xb-ngo']);
  });

  it('the same policy object whose hash changed (edited in place) drops what it remembered', () => {
    const p = parse(POLICY);
    const req = { sender: 'xa-police', type: 'DocumentReport', recipient: 'all', handling: 'H0', tlp: 'GREEN' } as const;
    expect(plannedSend(p, req).copies[0]!.recipients).toEqual(['xb-ngo', 'xc-ngo']);
    p.agencies['xc-ngo'] = { ...p.agencies['xc-ngo']!, roles: [] };
    p.hash = `${p.hash}-edited`;
    expect(plannedSend(p, req).copies[0]!.recipients).toEqual(['xb-ngo']);
  });

  it('a plan is decided again once older than the time bound', () => {
    const p = parse(POLICY);
    const req = { sender: 'xa-police', type: 'DocumentReport', recipient: 'all', handling: 'H0', tlp: 'GREEN' } as const;
    const t0 = 1_000_000;
    const before = sendPlanStats.decided;
    plannedSend(p, req, t0);
    plannedSend(p, req, t0 + SEND_PLAN_TTL_MS - 1);
    expect(sendPlanStats.decided - before).toBe(1);
    plannedSend(p, req, t0 + SEND_PLAN_TTL_MS);
    expect(sendPlanStats.decided - before).toBe(2);
  });

  it('memory per policy is bounded: past MAX_SEND_PLANS distinct sends it starts afresh', () => {
    const many = Array.from({ length: MAX_SEND_PLANS + 1 }, (_, i) => `  xb-ngo-${i}: { name: NGO ${i}, country: XBB, roles: [ngo] }\n`).join('');
    const p = parse(`${POLICY}${many}`);
    const direct = (i: number) => ({ sender: 'xa-police', type: 'CaseReferral', recipient: `xb-ngo-${i}`, handling: 'H0', tlp: 'GREEN' }) as const;
    const before = sendPlanStats.decided;
    for (let i = 0; i < MAX_SEND_PLANS; i++) plannedSend(p, direct(i));
    plannedSend(p, direct(0));
    expect(sendPlanStats.decided - before).toBe(MAX_SEND_PLANS);
    plannedSend(p, direct(MAX_SEND_PLANS));
    plannedSend(p, direct(0));
    expect(sendPlanStats.decided - before).toBe(MAX_SEND_PLANS + 2);
  });

  it('a refusal is never remembered, and a remembered plan cannot be changed by its caller', () => {
    const req = { sender: 'xa-police', type: 'DocumentReport', recipient: 'all', handling: 'H0', tlp: 'RED' } as const;
    for (let i = 0; i < 2; i++) {
      try {
        plannedSend(policy, req);
        throw new Error('a broadcast at TLP RED was planned');
      } catch (err) {
        expect(isLiaisonError(err) && err.code).toBe('ERR_POLICY_HANDLING_DENIED');
      }
    }
    const plan = plannedSend(policy, { ...req, tlp: 'GREEN' });
    expect(() => (plan.copies[0]!.recipients as string[]).push('xz-intruder')).toThrow(TypeError);
    expect(plannedSend(policy, { ...req, tlp: 'GREEN' }).copies[0]!.recipients).toEqual(['xb-ngo', 'xc-ngo']);
    // Sealed copies carry their own arrays: a caller may change those without touching the plan.
    const sealed = sealMessage(ctx(policy), 'DocumentReport', REPORT);
    sealed.copies[0]!.recipients.push('xz-other');
    expect(plannedSend(policy, { ...req, tlp: 'GREEN' }).copies[0]!.recipients).toEqual(['xb-ngo', 'xc-ngo']);
  });
});
