import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldsAboveTier, fromJson } from '../services/sdk/schema/index.ts';
import { startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const person = { name: { familyName: 'Haddad', givenNames: 'Amir' }, birthDate: '1990-04-02', nationalities: ['XZZ'] };

function protection(overrides: Record<string, unknown> = {}) {
  return {
    kind: 'REFERRAL_KIND_PROTECTION',
    summary: 'Rescued at sea; injured during the crossing; asks for shelter and legal assistance.',
    subject: person,
    consentRecorded: true,
    consentScope: 'sharing with protection NGO',
    victimOfViolentCrime: true,
    criminalIntelligence: 'Named the boat pilot and the organiser in Port Zeta.',
    suspectedOffences: ['PROTOCOL_OFFENCE_SMUGGLING'],
    ...overrides,
  };
}

describe('case referral workflow (¶13, ¶15, ¶3, ¶10) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-referral', ['xa-border-police', 'xa-ngo-harbour', 'xa-prosecutor', 'xb-return', 'mac-centre'], {
      'xa-ngo-harbour': ['CaseReferral'],
    });
  });
  afterAll(async () => fx?.stop());

  it('happy path: referred → acknowledged → accepted → in progress → closed, each step told to both parties, timeline signed', async () => {
    const police = fx.party('xa-border-police');
    const ngo = fx.party('xa-ngo-harbour');
    const sent = await police.client.send('CaseReferral', protection({ respondBy: new Date(fx.clock.now() + DAY).toISOString() }), { to: 'xa-ngo-harbour', caseRef: 'XA-2026-0042' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    await until(() => ngo.notices('WorkflowStateChange', ref).length === 1 && police.notices('WorkflowStateChange', ref).length === 1);

    const answer = (type: string, body: Record<string, unknown>) => ngo.client.send(type, { referralId: sent.id, ...body }, { to: 'xa-border-police', caseRef: 'XA-2026-0042' });
    await answer('ReferralAcknowledgement', { recipientReference: 'HL-0091' });
    await fx.caseIn(ref, 'acknowledged');
    await answer('ReferralDecision', { decision: 'REFERRAL_DECISION_KIND_ACCEPTED', assignedProgramme: 'shelter' });
    await fx.caseIn(ref, 'accepted');
    await answer('ReferralUpdate', { status: 'REFERRAL_STATUS_ASSISTANCE_PROVIDED', note: 'in shelter' });
    await fx.caseIn(ref, 'in-progress');
    await answer('ReferralClosure', { outcome: 'REFERRAL_OUTCOME_COMPLETED', summary: 'assistance provided' });
    const c = await fx.caseIn(ref, 'closed');

    expect(c.timeline.map((s) => [s.transition, s.from, s.to, s.actor])).toEqual([
      ['open', '', 'referred', 'xa-border-police'],
      ['acknowledge', 'referred', 'acknowledged', 'xa-ngo-harbour'],
      ['accept', 'acknowledged', 'accepted', 'xa-ngo-harbour'],
      ['update', 'accepted', 'in-progress', 'xa-ngo-harbour'],
      ['close', 'in-progress', 'closed', 'xa-ngo-harbour'],
    ]);
    expect(c.timeline[0]!.signedBy).toBe(police.client.identity.key.kid);
    expect(c.timeline[4]!.signedBy).toBe(ngo.client.identity.key.kid);
    expect(c.kind).toBe('protection');
    expect(c.externalRef).toBe('XA-2026-0042');
    expect(c.deadlines).toEqual([]);
    await until(() => police.notices('WorkflowStateChange', ref).length === 5 && ngo.notices('WorkflowStateChange', ref).length === 5);
    expect(police.notices('WorkflowStateChange', ref).map((n) => n.toState)).toEqual(['referred', 'acknowledged', 'accepted', 'in-progress', 'closed']);
    // Each notice is signed by the case registry and directed to the party.
    const notice = police.inbox.find((m) => m.type === 'WorkflowStateChange' && m.body.caseRef === ref)!;
    expect(notice.header.sender).toBe('mac-cases');
    expect(notice.header.recipient).toBe('xa-border-police');

    // The case as a party sees it through `case show` (CaseQuery request/reply).
    const shown = await police.client.request('CaseQuery', { caseRef: ref });
    const cases = shown.body.cases as Record<string, unknown>[];
    expect(cases).toHaveLength(1);
    expect((cases[0]!.timeline as unknown[]).length).toBe(5);
    expect(cases[0]!.state).toBe('closed');

    // After closure nothing changes the case.
    await answer('ReferralUpdate', { status: 'REFERRAL_STATUS_IN_PROGRESS' });
    await until(() => ngo.notices('WorkflowRejection').some((r) => r.code === 'ERR_WORKFLOW_CASE_CLOSED'));
    expect(fx.caseOf(ref)!.timeline).toHaveLength(5);
  });

  it('the NGO receives the protection referral without any field above its tier (no criminal intelligence, no offences)', async () => {
    const police = fx.party('xa-border-police');
    const ngo = fx.party('xa-ngo-harbour');
    const sent = await police.client.send('CaseReferral', protection(), { to: 'xa-ngo-harbour' });
    await until(() => ngo.inbox.some((m) => m.header.id === sent.id));
    const copy = ngo.inbox.find((m) => m.header.id === sent.id)!;
    expect(copy.header.tier).toBe('personal');
    expect(copy.body.criminalIntelligence).toBeUndefined();
    expect(copy.body.suspectedOffences).toBeUndefined();
    expect(copy.body.victimOfViolentCrime).toBe(true);
    const info = fx.fed.catalog.get('CaseReferral');
    expect(fieldsAboveTier(info, fromJson(info, copy.body), 'personal')).toEqual([]);
    // The case registry keeps case metadata only.
    const c = await fx.caseIn(`case-referral.${sent.id}`, 'referred');
    expect(JSON.stringify(c)).not.toContain('Haddad');
    expect(JSON.stringify(c)).not.toContain('Port Zeta');
  });

  it('a decline ends the case; a decline without a reason is refused and changes nothing', async () => {
    const police = fx.party('xa-border-police');
    const prosecutor = fx.party('xa-prosecutor');
    const sent = await police.client.send('CaseReferral', { kind: 'REFERRAL_KIND_PROSECUTION', summary: 'Pilot of the intercepted boat', subject: person }, { to: 'xa-prosecutor' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    const bare = await prosecutor.client.send('ReferralDecision', { referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_DECLINED' }, { to: 'xa-border-police' });
    await until(() => prosecutor.notices('WorkflowRejection').some((r) => r.causeMessageId === bare.id));
    const rejection = prosecutor.notices('WorkflowRejection').find((r) => r.causeMessageId === bare.id)!;
    expect(rejection).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref, currentState: 'referred' });
    expect(rejection.allowedNow).toEqual(expect.arrayContaining(['ReferralDecision', 'ReferralAcknowledgement']));
    // The referral's sender, who also received the refused decision, is told it did not count.
    await until(() => police.notices('WorkflowRejection').some((r) => r.causeMessageId === bare.id));
    expect(fx.caseOf(ref)!.state).toBe('referred');

    await prosecutor.client.send('ReferralDecision', { referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_DECLINED', reason: 'insufficient evidence' }, { to: 'xa-border-police' });
    await fx.caseIn(ref, 'declined');
  });

  it('illegal transitions are refused with a typed, signed rejection and leave the case unchanged: wrong state, non-party', async () => {
    const police = fx.party('xa-border-police');
    const ngo = fx.party('xa-ngo-harbour');
    const prosecutor = fx.party('xa-prosecutor');
    const sent = await police.client.send('CaseReferral', protection(), { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${sent.id}`;
    const before = await fx.caseIn(ref, 'referred');

    // Wrong state: closing a referral nobody accepted.
    const early = await ngo.client.send('ReferralClosure', { referralId: sent.id, outcome: 'REFERRAL_OUTCOME_COMPLETED' }, { to: 'xa-border-police' });
    // Non-party: a prosecutor deciding on a referral made to the NGO.
    const outsider = await prosecutor.client.send('ReferralDecision', { referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' }, { to: 'xa-border-police' });
    // Then the requested NGO acknowledges: legal, and the only change.
    const ack = await ngo.client.send('ReferralAcknowledgement', { referralId: sent.id }, { to: 'xa-border-police' });
    await until(() => [early.id, outsider.id].every((id) => police.notices('WorkflowRejection').some((r) => r.causeMessageId === id)));
    const codes = Object.fromEntries(police.notices('WorkflowRejection').map((r) => [r.causeMessageId, r.code]));
    expect(codes[early.id]).toBe('ERR_WORKFLOW_ILLEGAL_TRANSITION');
    expect(codes[outsider.id]).toBe('ERR_WORKFLOW_NOT_A_PARTY');
    const after = await fx.caseIn(ref, 'acknowledged');
    expect(after.timeline.map((s) => s.messageId)).toEqual([before.timeline[0]!.messageId, ack.id]);
  });

  it('wrong party: the referring agency may not decide on its own referral, nor close it before it is accepted', async () => {
    const police = fx.party('xa-border-police');
    const ngo = fx.party('xa-ngo-harbour');
    // The NGO refers a victim who wishes to file a complaint to the border police (¶3, access to justice).
    const sent = await ngo.client.send('CaseReferral', { kind: 'REFERRAL_KIND_INVESTIGATION', summary: 'Victim wishes to file a complaint', subject: person }, { to: 'xa-border-police' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    const own = await ngo.client.send('ReferralDecision', { referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' }, { to: 'xa-border-police' });
    await until(() => ngo.notices('WorkflowRejection').some((r) => r.causeMessageId === own.id));
    const r = ngo.notices('WorkflowRejection').find((x) => x.causeMessageId === own.id)!;
    expect(r.code).toBe('ERR_WORKFLOW_WRONG_PARTY');
    expect(String(r.reason)).toContain('only the requested');
    expect(fx.caseOf(ref)!.state).toBe('referred');
    // The requested party's update is not allowed before it accepts either.
    const update = await police.client.send('ReferralUpdate', { referralId: sent.id, status: 'REFERRAL_STATUS_IN_PROGRESS' }, { to: 'xa-ngo-harbour' });
    await until(() => police.notices('WorkflowRejection').some((x) => x.causeMessageId === update.id));
    expect(police.notices('WorkflowRejection').find((x) => x.causeMessageId === update.id)!.code).toBe('ERR_WORKFLOW_ILLEGAL_TRANSITION');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(1);
  });

  it('protection and return referrals need recorded consent; a return concerning a child needs the special needs stated (¶10)', async () => {
    const police = fx.party('xa-border-police');
    const noConsent = await police.client.send('CaseReferral', protection({ consentRecorded: false }), { to: 'xa-ngo-harbour' });
    const child = await police.client.send(
      'CaseReferral',
      { kind: 'REFERRAL_KIND_RETURN', summary: 'Wishes to return home', subject: person, consentRecorded: true, returnCountry: 'XZZ', accompanyingChildren: 2 },
      { to: 'xb-return' },
    );
    await until(() => [noConsent.id, child.id].every((id) => police.notices('WorkflowRejection').some((r) => r.causeMessageId === id)));
    const byId = Object.fromEntries(police.notices('WorkflowRejection').map((r) => [r.causeMessageId, r]));
    expect(byId[noConsent.id]).toMatchObject({ code: 'ERR_WORKFLOW_GUARD' });
    expect(String(byId[noConsent.id]!.reason)).toContain('consent');
    expect(String(byId[child.id]!.reason)).toContain('special needs');
    expect(fx.caseOf(`case-referral.${noConsent.id}`)).toBeUndefined();

    const ok = await police.client.send(
      'CaseReferral',
      { kind: 'REFERRAL_KIND_RETURN', summary: 'Wishes to return home', subject: person, consentRecorded: true, returnCountry: 'XZZ', accompanyingChildren: 2, specialNeeds: ['child of 4 needs paediatric follow-up'] },
      { to: 'xb-return' },
    );
    const c = await fx.caseIn(`case-referral.${ok.id}`, 'referred');
    expect(c.kind).toBe('return');
  });

  it('a deadline that passes: a reminder to the party at the due time, an escalation to the supervisor role after the grace period', async () => {
    const police = fx.party('xa-border-police');
    const ngo = fx.party('xa-ngo-harbour');
    const centre = fx.party('mac-centre');
    const sent = await police.client.send('CaseReferral', protection({ respondBy: new Date(fx.clock.now() + 2 * HOUR).toISOString() }), { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    await fx.wf.tick();
    expect(ngo.notices('WorkflowReminder', ref)).toEqual([]);

    fx.clock.advance(3 * HOUR);
    await fx.wf.tick();
    await until(() => ngo.notices('WorkflowReminder', ref).length === 1);
    expect(ngo.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-ngo-harbour', awaited: 'ReferralDecision', state: 'referred' });
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);
    await fx.wf.tick();
    expect(ngo.notices('WorkflowReminder', ref)).toHaveLength(1);

    fx.clock.advance(DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xa-ngo-harbour', supervisorRole: 'analyst-centre' });
    // The supervisor may now look the case up; it was not a party before.
    const shown = await centre.client.request('CaseQuery', { caseRef: ref });
    expect((shown.body.cases as unknown[]).length).toBe(1);
    expect(fx.caseOf(ref)!.state).toBe('referred');
  });
});
