import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAgreement } from '../services/bridge/agreement/load.ts';
import type { Agreement } from '../services/bridge/agreement/model.ts';
import { compileBridgeSide, type BridgeSide } from '../services/bridge/compile.ts';
import { checkCrossReceive, checkCrossSend, crossSendTiers } from '../services/bridge/decide.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { LiaisonError } from '../services/sdk/errors.ts';
import { parsePolicy, type Policy } from '../services/sdk/policy/index.ts';
import { subjectMatches } from '../services/sdk/policy/subject-match.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { generateEd25519 } from '../services/sdk/trust/keys.ts';

/**
 * One federation's side of an agreement (design §3–4), both federations on the example policy: pairs only, each
 * side's own policy bounding its agencies (a flow it cannot honour is left out and reported), the import user
 * publishing exactly the inbound subjects, the export consumers catching only the agreed copies.
 */

const catalog = typeCatalogOf(loadCatalog());
const policyText = readFileSync(join(import.meta.dirname, '../deploy/policies/federation.yaml'), 'utf8');
let policy: Policy;
let agreement: Agreement;
let med: BridgeSide;
let atl: BridgeSide;

const FLOWS = [
  // 0: IntelligenceReport delivered (border-police: personal, any); PersonAlert only by broadcast there → left out.
  { from: 'atl:xb-police', to: 'med:xa-border-police', types: ['IntelligenceReport', 'PersonAlert'], tier: 'personal' },
  // 1: capped at the coast guard's operational ceiling.
  { from: 'atl:xb-police', to: 'med:xa-coast-guard', types: ['IntelligenceReport'], tier: 'special' },
  // 2: the border police read IntelligenceReport only at personal, above this flow's operational → left out.
  { from: 'atl:xb-prosecutor', to: 'med:xa-border-police', types: ['IntelligenceReport'], tier: 'operational' },
  // 3: outbound; 4: outbound the NGO may not send → left out on med's side.
  { from: 'med:xa-coast-guard', to: 'atl:xb-police', types: ['IntelligenceReport'], tier: 'operational' },
  { from: 'med:xa-ngo-harbour', to: 'atl:xb-police', types: ['DocumentReport'], tier: 'personal' },
];

beforeAll(async () => {
  policy = parsePolicy(policyText, { file: 'federation.yaml', catalog });
  const [m, a] = await Promise.all([generateEd25519(), generateEd25519()]);
  const jwk = (x: string) => `{ kty: OKP, crv: Ed25519, x: ${x} }`;
  const flows = FLOWS.map((f) => `  - { from: ${f.from}, to: ${f.to}, types: [${f.types.join(', ')}], tier: ${f.tier} }`);
  const text = ['id: med-atl', 'federations:', `  - { name: med, root: ${jwk(m.publicJwk.x)} }`, `  - { name: atl, root: ${jwk(a.publicJwk.x)} }`, 'expires: 2030-01-01T00:00:00Z', 'flows:', ...flows, ''].join('\n');
  agreement = parseAgreement(text, 'med-atl.yaml');
  med = compileBridgeSide(agreement, 'med', policy, catalog);
  atl = compileBridgeSide(agreement, 'atl', policy, catalog);
});

describe('compileBridgeSide', () => {
  it('inbound: only the flows the local policy honours, each at the recipient\'s own direct ceiling', () => {
    expect(med.peer).toBe('atl');
    expect(med.inbound.map(({ admits: _a, ...r }) => r)).toEqual([
      { sender: 'atl:xb-police', recipient: 'xa-border-police', type: 'IntelligenceReport', family: 'cooperation', tier: 'personal', flow: 'flows[0]' },
      { sender: 'atl:xb-police', recipient: 'xa-coast-guard', type: 'IntelligenceReport', family: 'cooperation', tier: 'operational', flow: 'flows[1]' },
    ]);
  });

  it('a flow whose local recipient cannot receive the type directed, or only above the flow\'s tier, is left out and reported', () => {
    expect(med.issues).toHaveLength(3);
    expect(med.issues[0]).toContain('flows[0] (atl:xb-police → med:xa-border-police, PersonAlert): xa-border-police receives no PersonAlert directed');
    expect(med.issues[1]).toContain('flows[2] (atl:xb-prosecutor → med:xa-border-police, IntelligenceReport): xa-border-police reads IntelligenceReport only at the personal tier');
    expect(med.issues[2]).toContain('flows[4] (med:xa-ngo-harbour → atl:xb-police, DocumentReport): xa-ngo-harbour may not send DocumentReport');
  });

  it('the tier is capped by the local ceiling: a special flow to the coast guard delivers operational, and says so', () => {
    expect(med.inbound.find((r) => r.recipient === 'xa-coast-guard')?.tier).toBe('operational');
    expect(med.notes).toEqual([expect.stringContaining("flows[1] (atl:xb-police → med:xa-coast-guard, IntelligenceReport): capped at the operational tier, xa-coast-guard's ceiling")]);
    expect(med.importUser.pub.filter((s) => s.includes('xa-coast-guard'))).toEqual(['liaison.v1.operational.cooperation.IntelligenceReport.atl:xb-police.xa-coast-guard']);
  });

  it('the import user may publish exactly the inbound subjects and the peer\'s directory subject: no wildcard, nothing wider', () => {
    expect(med.importUser.pub).toEqual([
      'liaison.v1.operational.cooperation.IntelligenceReport.atl:xb-police.xa-coast-guard',
      'liaison.v1.personal.cooperation.IntelligenceReport.atl:xb-police.xa-border-police',
      'liaison.v1.trust.foreign.atl',
    ]);
    expect(med.importUser.pub.join(' ')).not.toMatch(/[*>]/);
    expect(med.importUser.sub).toEqual(['_INBOX__bridge_med-atl_import.>']);
    expect(med.exportUser.sub).toEqual(['_INBOX__bridge_med-atl_export.>']);
  });

  it('outbound: the local sender may send the type; its extra subjects are the route\'s, every tier up to the flow\'s', () => {
    expect(med.outbound.map((r) => [r.sender, r.recipient, r.type, r.tier])).toEqual([['xa-coast-guard', 'atl:xb-police', 'IntelligenceReport', 'operational']]);
    expect(med.senderPublish).toEqual({
      'xa-coast-guard': ['liaison.v1.operational.cooperation.IntelligenceReport.xa-coast-guard.atl:xb-police', 'liaison.v1.public.cooperation.IntelligenceReport.xa-coast-guard.atl:xb-police'],
    });
    // atl's side of the same agreement: flows 0–2 are its outbound ones.
    expect(atl.outbound.map((r) => `${r.sender}→${r.recipient} ${r.type}@${r.tier}`)).toEqual([
      'xb-police→med:xa-border-police IntelligenceReport@personal',
      'xb-police→med:xa-border-police PersonAlert@personal',
      'xb-police→med:xa-coast-guard IntelligenceReport@special',
      'xb-prosecutor→med:xa-border-police IntelligenceReport@operational',
    ].filter((r) => !r.startsWith('xb-prosecutor')));
    expect(atl.issues.some((i) => i.includes('xb-prosecutor may not send IntelligenceReport'))).toBe(true);
  });

  it('given the peer\'s policy, outbound routes carry the peer recipient\'s own tier and what it cannot take is left out', () => {
    const s = compileBridgeSide(agreement, 'atl', policy, catalog, { peerPolicy: policy });
    expect(s.outbound.map((r) => `${r.recipient} ${r.type}@${r.tier}${r.exact ? '!' : ''}`)).toEqual(['med:xa-border-police IntelligenceReport@personal!', 'med:xa-coast-guard IntelligenceReport@operational!']);
    expect(crossSendTiers(s, 'xb-police', 'med:xa-coast-guard', 'IntelligenceReport')).toEqual(['operational']);
    expect(s.exportConsumers).toHaveLength(2);
  });

  it('the export consumers catch only the agreed copies for the foreign recipient (one per tier sealed), and the export user pulls only those', () => {
    expect(atl.exportConsumers.filter((c) => c.type === 'IntelligenceReport' && c.filterSubject.endsWith('med:xa-border-police')).map((c) => [c.stream, c.name, c.filterSubject])).toEqual([
      ['LIAISON_COOPERATION', 'bridge_med_xb-police_xa-border-police_IntelligenceReport_public', 'liaison.v1.public.cooperation.IntelligenceReport.xb-police.med:xa-border-police'],
      ['LIAISON_COOPERATION', 'bridge_med_xb-police_xa-border-police_IntelligenceReport_operational', 'liaison.v1.operational.cooperation.IntelligenceReport.xb-police.med:xa-border-police'],
      ['LIAISON_COOPERATION', 'bridge_med_xb-police_xa-border-police_IntelligenceReport_personal', 'liaison.v1.personal.cooperation.IntelligenceReport.xb-police.med:xa-border-police'],
    ]);
    // Every sealed copy of every route is caught: 3 + 3 tiers (personal flows), 4 (the special one).
    expect(atl.exportConsumers).toHaveLength(10);
    expect(atl.exportConsumers.map((c) => c.filterSubject).join(' ')).not.toMatch(/[*>]/);
    expect(new Set(atl.exportConsumers.map((c) => c.name)).size).toBe(10);
    for (const other of [
      'liaison.v1.personal.cooperation.IntelligenceReport.xb-police.xa-border-police', // atl's own xa-border-police
      'liaison.v1.personal.cooperation.IntelligenceReport.xb-police.med:xa-prosecutor', // another foreign recipient
      'liaison.v1.personal.cooperation.IntelligenceReport.xb-prosecutor.med:xa-border-police', // another sender
      'liaison.v1.personal.cooperation.IntelligenceReport.xb-police.pac:xa-border-police', // another federation
      'liaison.v1.special.cooperation.IntelligenceReport.xb-police.med:xa-border-police', // above the flow's tier
      'liaison.v1.personal.cooperation.CaseReferral.xb-police.med:xa-border-police', // a type no flow names
      'liaison.v1.personal.cooperation.IntelligenceReport.xb-police.all',
    ]) {
      expect(atl.exportConsumers.some((x) => subjectMatches(x.filterSubject, other)), other).toBe(false);
    }
    expect(atl.exportUser.pub).toEqual(
      atl.exportConsumers.flatMap((x) => [`LIAISON.API.CONSUMER.INFO.${x.stream}.${x.name}`, `LIAISON.API.CONSUMER.MSG.NEXT.${x.stream}.${x.name}`, `$JS.ACK.${x.stream}.${x.name}.>`]).sort(),
    );
  });

  it('refuses a federation that is not a party', () => {
    expect(() => compileBridgeSide(agreement, 'pac', policy, catalog)).toThrow(LiaisonError);
  });
});

describe('crossSendTiers / checkCrossSend / checkCrossReceive', () => {
  function refusal(fn: () => unknown): LiaisonError {
    try {
      fn();
    } catch (err) {
      return err as LiaisonError;
    }
    throw new Error('allowed');
  }

  it('a flow admits exactly its sender → its recipient, for its types', () => {
    expect(crossSendTiers(med, 'xa-coast-guard', 'atl:xb-police', 'IntelligenceReport')).toEqual(['public', 'operational']);
    expect(checkCrossSend(med, { sender: 'xa-coast-guard', recipient: 'atl:xb-police', type: 'IntelligenceReport' }).flow).toBe('flows[3]');
    for (const [sender, recipient, type] of [
      ['xa-border-police', 'atl:xb-police', 'IntelligenceReport'], // another local sender
      ['xa-coast-guard', 'atl:xb-prosecutor', 'IntelligenceReport'], // another foreign recipient
      ['xa-coast-guard', 'atl:xb-police', 'CaseReferral'], // another type
      ['xa-coast-guard', 'xb-police', 'IntelligenceReport'], // unqualified: the local agency, not the peer's
    ] as const) {
      expect(crossSendTiers(med, sender, recipient, type)).toEqual([]);
      const e = refusal(() => checkCrossSend(med, { sender, recipient, type }));
      expect(e.code).toBe('ERR_POLICY_SEND_DENIED');
      expect(e.message).toContain('agreement med-atl');
    }
    expect(refusal(() => checkCrossSend(med, { sender: 'xa-ngo-harbour', recipient: 'atl:xb-police', type: 'DocumentReport' })).message).toContain('flows[4]');
  });

  it('a received copy must come from the flow\'s sender at exactly the route\'s tier, with markings the recipient admits', () => {
    const ok = { sender: 'atl:xb-police', recipient: 'xa-border-police', type: 'IntelligenceReport', tier: 'personal' } as const;
    expect(checkCrossReceive(med, ok).flow).toBe('flows[0]');
    expect(refusal(() => checkCrossReceive(med, { ...ok, sender: 'atl:xb-prosecutor' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(refusal(() => checkCrossReceive(med, { ...ok, recipient: 'xa-coast-guard', tier: 'personal' })).message).toContain('at the operational tier (agreement med-atl flows[1]), not personal');
    expect(refusal(() => checkCrossReceive(med, { ...ok, tier: 'operational' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(refusal(() => checkCrossReceive(med, { ...ok, type: 'PersonAlert' })).message).toContain('receives no PersonAlert directed');
    expect(refusal(() => checkCrossReceive(med, { ...ok, sender: 'xb-police' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    // The prosecutor's IntelligenceReport rule admits H0, H2, H3 only (example policy): the same holds across.
    const s = compileBridgeSide(
      parseAgreement(agreement.text.replace('to: med:xa-border-police, types: [IntelligenceReport], tier: operational', 'to: med:xa-prosecutor, types: [IntelligenceReport], tier: personal')),
      'med',
      policy,
      catalog,
    );
    const toProsecutor = { sender: 'atl:xb-prosecutor', recipient: 'xa-prosecutor', type: 'IntelligenceReport', tier: 'personal' } as const;
    expect(checkCrossReceive(s, { ...toProsecutor, handling: 'H2', tlp: 'AMBER' }).flow).toBe('flows[2]');
    expect(refusal(() => checkCrossReceive(s, { ...toProsecutor, handling: 'H1', tlp: 'AMBER' })).code).toBe('ERR_POLICY_HANDLING_DENIED');
  });
});
