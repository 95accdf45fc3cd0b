import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { decideReceive, decideSend } from '../services/sdk/policy/index.ts';
import { rejectionOf, startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';
import { RawAgency } from './support/violations.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

const report = {
  reportReference: 'XA-FIU-2026-311',
  summary: 'Cash deposits below threshold on accounts of a travel agency, wired on to Port Zeta',
  analysis: 'Structuring pattern typical of smuggling fee collection; same beneficial owner as case XA-2026-0042',
  persons: [{ name: { familyName: 'Moreau', givenNames: 'Luc' }, birthDate: '1979-11-23', nationalities: ['XBB'] }],
  entities: [{ kind: 'ENTITY_KIND_ACCOUNT', value: 'XB27 0001 4455 9981', role: 'money collector', country: 'XBB' }],
  suspectedOffences: ['PROTOCOL_OFFENCE_SMUGGLING'],
  totalAmount: '18000000',
  currency: 'EUR',
};

describe('financial intelligence between units, onward dissemination only with prior consent (¶9(c)) on a real exchange', () => {
  let fx: WorkflowFixture;
  /** Consent answers xb-fiu received, by header id. */
  const consents = () => fx.party('xb-fiu').inbox.filter((m) => m.type === 'DisseminationConsentResponse');

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-fiu', ['xa-fiu', 'xb-fiu', 'xc-fiu', 'xb-prosecutor', 'mac-centre', 'xa-ngo-harbour'], {
      'xb-fiu': ['FinancialIntelligenceReport', 'DisseminationConsentResponse'],
      'xa-fiu': ['DisseminationConsentRequest'],
      'xb-prosecutor': ['FinancialIntelligenceReport'],
    });
  }, 60_000);
  afterAll(async () => fx?.stop());

  /** xa-fiu reports to xb-fiu; xb-fiu asks xa-fiu to pass it on to `recipients`. */
  async function reportAndAsk(recipients: string[] = ['xb-prosecutor'], overrides: Record<string, unknown> = {}) {
    const original = await fx.party('xa-fiu').client.send('FinancialIntelligenceReport', report, { to: 'xb-fiu', caseRef: 'XA-FIU-2026-311' });
    const asked = await fx.party('xb-fiu').client.send(
      'DisseminationConsentRequest',
      { reportId: original.id, reportReference: 'XA-FIU-2026-311', proposedRecipients: recipients, purpose: 'freezing request to the prosecutor', linkedMlaRequestIds: ['0190f0aa-0000-7000-8000-000000000001'], ...overrides },
      { to: 'xa-fiu' },
    );
    const ref = `fiu-consent.${asked.id}`;
    const answer = (body: Record<string, unknown>, from = 'xa-fiu', to = 'xb-fiu') =>
      fx.party(from).client.send('DisseminationConsentResponse', { requestId: asked.id, reportId: original.id, ...body }, { to });
    /** The onward report xb-fiu would send (to xb-prosecutor by default). */
    const onward = (consent?: ReceivedMessage, to = 'xb-prosecutor', extra: Record<string, unknown> = {}) =>
      fx.party('xb-fiu').client.send(
        'FinancialIntelligenceReport',
        { ...report, reportReference: 'XB-FIU-2026-07', originator: 'xa-fiu', originalReportId: original.id, consentId: consent ? asked.id : '', ...extra },
        { to, ...(consent ? { consent } : {}) },
      );
    return { original, asked, ref, answer, onward };
  }

  async function consentFor(id: string): Promise<ReceivedMessage> {
    await until(() => consents().some((m) => m.header.id === id), 8_000, `consent ${id} at xb-fiu`);
    return consents().find((m) => m.header.id === id)!;
  }

  it('happy path: refused at send without consent; asked, granted with conditions for the prosecutor; then passed on, the prosecutor seeing no analysis', async () => {
    const xa = fx.party('xa-fiu');
    const xb = fx.party('xb-fiu');
    const prosecutor = fx.party('xb-prosecutor');
    const opened = fx.clock.now();
    const { original, asked, ref, answer, onward } = await reportAndAsk();
    // Passing it on before consent: the sender's SDK refuses, nothing is published.
    await expect(onward()).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED', details: { originator: 'xa-fiu', recipient: 'xb-prosecutor' } });

    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0).toMatchObject({ workflow: 'fiu-consent', kind: 'onward-dissemination', requester: 'xb-fiu', requested: 'xa-fiu' });
    expect(c0.data).toMatchObject({ reportId: original.id, proposedRecipients: ['xb-prosecutor'], linkedMlaRequests: ['0190f0aa-0000-7000-8000-000000000001'] });
    expect(c0.deadlines).toEqual([expect.objectContaining({ name: 'consent', party: 'xa-fiu', dueAt: opened + 5 * DAY, awaited: 'DisseminationConsentResponse' })]);
    // The registry keeps the consent's metadata, never the report.
    expect(JSON.stringify(c0)).not.toContain('Moreau');
    await until(() => xa.inbox.some((m) => m.type === 'DisseminationConsentRequest' && m.header.id === asked.id));

    const granted = await answer({ decision: 'CONSENT_DECISION_GRANTED_WITH_CONDITIONS', grantedRecipients: ['xb-prosecutor'], conditions: 'intelligence purposes only; not as evidence' });
    const c1 = await fx.caseIn(ref, 'granted');
    expect(c1.timeline.map((s) => [s.transition, s.from, s.to, s.actor])).toEqual([
      ['open', '', 'requested', 'xb-fiu'],
      ['grant', 'requested', 'granted', 'xa-fiu'],
    ]);
    expect(c1.timeline[1]!.note).toBe('granted with conditions for xb-prosecutor');
    for (const p of [xa, xb]) {
      await until(() => p.notices('WorkflowStateChange', ref).length === 2);
      expect(p.notices('WorkflowStateChange', ref).map((n) => n.toState)).toEqual(['requested', 'granted']);
    }

    const consent = await consentFor(granted.id);
    // The grant covers the prosecutor only: another recipient, or a body that does not name it, is refused.
    await expect(onward(consent, 'xa-fiu')).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED' });
    await expect(onward(consent, 'xb-prosecutor', { consentId: '' })).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED', message: expect.stringContaining('consent_id') });
    await expect(onward(consent, 'xb-prosecutor', { originalReportId: asked.id })).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED', message: expect.stringContaining('is for report') });
    // A "consent" the onward sender made up (not signed by the originator) does not count.
    const madeUp = { ...consent, header: { ...consent.header, sender: 'xb-fiu' } };
    await expect(onward(madeUp)).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED', message: expect.stringContaining('signed by xb-fiu') });
    // A broadcast is never an onward dissemination.
    await expect(fx.party('xb-fiu').client.send('FinancialIntelligenceReport', { ...report, originator: 'xa-fiu', originalReportId: original.id, consentId: asked.id }, { to: 'all', consent })).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(CONSENT_REQUIRED|POLICY_NO_RECIPIENT)$/),
    });

    const passed = await onward(consent);
    await until(() => prosecutor.inbox.some((m) => m.header.id === passed.id), 8_000, 'the onward report at the prosecutor');
    const got = prosecutor.inbox.find((m) => m.header.id === passed.id)!;
    expect(got.header.tier).toBe('personal');
    expect(got.body).toMatchObject({ originator: 'xa-fiu', originalReportId: original.id, consentId: asked.id, summary: report.summary });
    expect(got.body.analysis).toBeUndefined();
    expect(got.body.suspectedOffences).toBeUndefined();
    // The case registry records the report passed on under the consent, and tells the originator.
    await until(() => fx.caseOf(ref)!.timeline.length === 3 && fx.caseOf(ref)!.outbox.length === 0);
    expect(fx.caseOf(ref)!.timeline[2]).toMatchObject({ transition: 'disseminate', actor: 'xb-fiu', messageId: passed.id, note: 'report passed on to xb-prosecutor under the consent' });
    await until(() => xa.notices('WorkflowStateChange', ref).length === 3);
    // The original report (no originator) is no workflow's: never refused, never in a case.
    expect(xa.notices('WorkflowRejection').filter((r) => r.causeMessageId === original.id)).toEqual([]);
  });

  it('a sender whose SDK skips the consent check: the case registry refuses the report passed on (ERR_CONSENT_REQUIRED) to sender and recipient', async () => {
    const prosecutor = fx.party('xb-prosecutor');
    const { ref, answer, original, asked } = await reportAndAsk(['xb-prosecutor']);
    await fx.caseIn(ref, 'requested');
    await answer({ decision: 'CONSENT_DECISION_GRANTED', grantedRecipients: ['xb-prosecutor'] });
    await fx.caseIn(ref, 'granted');
    // A modified SDK: the same client with the policy's consent rule stripped (what a raw client could do).
    const xb = await fx.fed.connect('xb-fiu');
    const real = xb.policy;
    Object.defineProperty(xb, 'policy', { get: () => ({ ...real, consent: undefined }) });
    const send = (to: string, extra: Record<string, unknown>) =>
      xb.send('FinancialIntelligenceReport', { ...report, reportReference: 'XB-FIU-2026-09', originator: 'xa-fiu', originalReportId: original.id, consentId: asked.id, ...extra }, { to });
    // Passed on to a recipient the grant does not name (an FIU of a third state).
    const beyond = await send('xc-fiu', {});
    const r1 = await rejectionOf(fx.party('xb-fiu'), beyond.id);
    expect(r1).toMatchObject({ code: 'ERR_CONSENT_REQUIRED', caseRef: ref, refusedSender: 'xb-fiu' });
    expect(String(r1.reason)).toContain('granted for xb-prosecutor only');
    await rejectionOf(fx.party('xc-fiu'), beyond.id);
    // Naming no consent at all: it belongs to no consent case.
    const none = await send('xb-prosecutor', { consentId: '' });
    expect(await rejectionOf(prosecutor, none.id)).toMatchObject({ code: 'ERR_WORKFLOW_UNKNOWN_CASE', refusedSender: 'xb-fiu' });
    expect(fx.caseOf(ref)!.timeline.map((s) => s.transition)).toEqual(['open', 'grant']);
  });

  it('refusal needs reasons; a refused consent is no consent, and a late grant changes nothing', async () => {
    const xb = fx.party('xb-fiu');
    const { ref, answer, onward } = await reportAndAsk();
    await fx.caseIn(ref, 'requested');
    const bare = await answer({ decision: 'CONSENT_DECISION_REFUSED' });
    expect(await rejectionOf(fx.party('xa-fiu'), bare.id)).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref });
    const refused = await answer({ decision: 'CONSENT_DECISION_REFUSED', reasons: 'an investigation of ours would be compromised' });
    await fx.caseIn(ref, 'refused');
    const answerMsg = await consentFor(refused.id);
    await expect(onward(answerMsg)).rejects.toMatchObject({ code: 'ERR_CONSENT_REQUIRED', message: expect.stringContaining('CONSENT_DECISION_REFUSED, not a grant') });
    const late = await answer({ decision: 'CONSENT_DECISION_GRANTED', grantedRecipients: ['xb-prosecutor'] });
    expect(await rejectionOf(xb, late.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'refused' });
  });

  it('guards: a grant beyond the proposed recipients, or without them, is refused; a request without a purpose opens no case', async () => {
    const xa = fx.party('xa-fiu');
    const { ref, answer } = await reportAndAsk(['xb-prosecutor']);
    await fx.caseIn(ref, 'requested');
    const wider = await answer({ decision: 'CONSENT_DECISION_GRANTED', grantedRecipients: ['xb-prosecutor', 'xc-fiu'] });
    expect(String((await rejectionOf(xa, wider.id)).reason)).toContain('only the proposed recipients');
    const none = await answer({ decision: 'CONSENT_DECISION_GRANTED' });
    expect(String((await rejectionOf(xa, none.id)).reason)).toContain('granted_recipients');
    expect(fx.caseOf(ref)!.state).toBe('requested');
    const { ref: noPurpose, asked } = await reportAndAsk(['xb-prosecutor'], { purpose: '' });
    expect(String((await rejectionOf(fx.party('xb-fiu'), asked.id)).reason)).toContain('purpose');
    expect(fx.caseOf(noPurpose)).toBeUndefined();
  });

  it('a consent not answered in time: the originator is reminded at the due time, the supervisor told after two more days', async () => {
    const xa = fx.party('xa-fiu');
    const xb = fx.party('xb-fiu');
    const centre = fx.party('mac-centre');
    const due = fx.clock.now() + 12 * HOUR;
    const { ref } = await reportAndAsk(['xb-prosecutor'], { respondBy: iso(due) });
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0.deadlines.map((d) => [d.name, d.party, d.dueAt])).toEqual([['consent', 'xa-fiu', due]]);
    await fx.wf.tick();
    expect(xa.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(13 * HOUR);
    await fx.wf.tick();
    await until(() => xa.notices('WorkflowReminder', ref).length === 1);
    expect(xa.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-fiu', awaited: 'DisseminationConsentResponse', state: 'requested', deadline: 'consent' });
    expect(xb.notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);
    fx.clock.advance(2 * DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xa-fiu', supervisorRole: 'analyst-centre', awaited: 'DisseminationConsentResponse' });
    expect(fx.caseOf(ref)!.timeline.map((s) => s.transition)).toEqual(['open', 'reminder:consent', 'escalation:consent']);
  });

  it('non-party, wrong party and an answer without a decision are refused with typed rejections; the case is unchanged', async () => {
    const xa = fx.party('xa-fiu');
    const xb = fx.party('xb-fiu');
    const xc = fx.party('xc-fiu');
    const { ref, answer } = await reportAndAsk();
    const before = await fx.caseIn(ref, 'requested');
    const outsider = await answer({ decision: 'CONSENT_DECISION_GRANTED', grantedRecipients: ['xb-prosecutor'] }, 'xc-fiu', 'xb-fiu');
    const own = await answer({ decision: 'CONSENT_DECISION_GRANTED', grantedRecipients: ['xb-prosecutor'] }, 'xb-fiu', 'xa-fiu');
    const blank = await answer({ grantedRecipients: ['xb-prosecutor'] });
    expect(await rejectionOf(xc, outsider.id)).toMatchObject({ code: 'ERR_WORKFLOW_NOT_A_PARTY', caseRef: ref, refusedSender: 'xc-fiu' });
    expect(await rejectionOf(xa, own.id)).toMatchObject({ code: 'ERR_WORKFLOW_WRONG_PARTY', currentState: 'requested' });
    expect(await rejectionOf(xb, blank.id)).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', allowedNow: ['DisseminationConsentResponse'] });
    const after = fx.caseOf(ref)!;
    expect(after.state).toBe('requested');
    expect(after.timeline).toEqual(before.timeline);
    const shown = await xc.client.request('CaseQuery', { caseRef: ref });
    expect(shown.body.cases ?? []).toEqual([]);
  });

  it("the NGO's copy: the policy plans none and the broker refuses the NGO every financial-intelligence subject", async () => {
    const policy = fx.fed.exchange.policy;
    for (const type of ['FinancialIntelligenceReport', 'FinancialIntelligenceRequest', 'DisseminationConsentRequest', 'DisseminationConsentResponse']) {
      expect(decideSend(policy, { sender: 'xa-fiu', type, recipient: 'xa-ngo-harbour', handling: 'H0', tlp: 'GREEN' }).allowed).toBe(false);
      expect(decideReceive(policy, { receiver: 'xa-ngo-harbour', sender: 'xa-fiu', type, recipient: 'xa-ngo-harbour', tier: 'public', handling: 'H0', tlp: 'GREEN' }).allowed).toBe(false);
    }
    const raw = await RawAgency.connect(fx.fed.server.url, fx.fed.agencyDirs['xa-ngo-harbour']!, 'xa-ngo-harbour');
    try {
      const subject = 'liaison.v1.public.finint.FinancialIntelligenceReport.xa-fiu.xa-ngo-harbour';
      raw.nc.subscribe(subject);
      expect(await raw.refused(subject)).toBe(true);
      // The NGO holds no notice of any consent case: it is never a party.
      expect(fx.party('xa-ngo-harbour').inbox.filter((m) => String(m.body.caseRef ?? '').startsWith('fiu-consent.'))).toEqual([]);
    } finally {
      await raw.nc.close();
    }
  });
});
