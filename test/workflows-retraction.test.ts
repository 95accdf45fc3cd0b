import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToken } from '../services/workflows/definitions/read.ts';
import type { CaseRecord } from '../services/workflows/model.ts';
import { startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';

const DAY = 86_400_000;
const person = { name: { familyName: 'Haddad', givenNames: 'Amir' }, birthDate: '1990-04-02', nationalities: ['XZZ'] };
const prosecution = (extra: Record<string, unknown> = {}) => ({ kind: 'REFERRAL_KIND_PROSECUTION', summary: 'Pilot of the intercepted boat', subject: person, ...extra });

const retractStep = (c: CaseRecord) => c.timeline.filter((s) => s.transition === 'retract');

describe('the case registry follows retractions and corrections (issue 6)', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-retraction', ['xa-border-police', 'xa-prosecutor', 'xb-police', 'xc-training', 'xa-coast-guard'], {
      // Recipients consume what they are sent (so the exchange counts them as prior recipients) and the Retractions of it.
      'xa-border-police': ['ReferralDecision', 'ReferralAcknowledgement', 'Retraction'],
      'xa-prosecutor': ['CaseReferral', 'Retraction'],
      'xb-police': ['Retraction'],
      'xa-coast-guard': ['TrainingOffer', 'Retraction'],
    });
  });
  afterAll(async () => fx?.stop());

  const referral = async (extra: Record<string, unknown> = {}) => {
    const sent = await fx.party('xa-border-police').client.send('CaseReferral', prosecution(extra), { to: 'xa-prosecutor', caseRef: 'XA-2026-0101' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    return { id: sent.id, ref };
  };
  const decide = (referralId: string, body: Record<string, unknown>) =>
    fx.party('xa-prosecutor').client.send('ReferralDecision', { referralId, ...body }, { to: 'xa-border-police' });

  it('a retracted opening message withdraws its case: deadlines and data dropped, parties told, the registry acknowledges, later steps refused', async () => {
    const police = fx.party('xa-border-police');
    const prosecutor = fx.party('xa-prosecutor');
    const { id, ref } = await referral({ respondBy: new Date(fx.clock.now() + DAY).toISOString() });
    expect(fx.caseOf(ref)!.deadlines.length).toBeGreaterThan(0);

    const out = await police.client.retract(id, 'referred to the wrong authority');
    expect(out.record.recipients.map((r) => r.agency)).toEqual(expect.arrayContaining(['mac-cases', 'xa-prosecutor']));
    const c = await fx.caseIn(ref, 'withdrawn');
    expect(c.deadlines).toEqual([]);
    expect(c.data).toEqual({});
    expect(c.timeline[0]!.retracted).toMatchObject({ reason: 'referred to the wrong authority' });
    expect(retractStep(c)).toEqual([expect.objectContaining({ from: 'referred', to: 'withdrawn', actor: 'xa-border-police', messageType: 'Retraction' })]);
    await until(() => [police, prosecutor].every((p) => p.notices('WorkflowStateChange', ref).some((n) => n.toState === 'withdrawn' && n.transition === 'retract')));

    // The registry's SDK acknowledged the Retraction with a signed receipt.
    let acked = false;
    for (let i = 0; i < 80 && !acked; i++) {
      acked = (await police.client.retractionStatus(id)).recipients.some((r) => r.agency === 'mac-cases' && !!r.acknowledgedAt);
      if (!acked) await new Promise((r) => setTimeout(r, 100));
    }
    expect(acked).toBe(true);

    // Nothing moves a withdrawn case, and no deadline fires on it.
    const late = await decide(id, { decision: 'REFERRAL_DECISION_KIND_ACCEPTED' });
    await until(() => prosecutor.notices('WorkflowRejection').some((r) => r.causeMessageId === late.id));
    expect(prosecutor.notices('WorkflowRejection').find((r) => r.causeMessageId === late.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'withdrawn' });
    fx.clock.advance(3 * DAY);
    await fx.wf.tick();
    expect(police.notices('WorkflowReminder', ref)).toEqual([]);
    expect(fx.caseOf(ref)!.state).toBe('withdrawn');
  });

  it('a decision sent in error and corrected: the decision is undone (the case re-opens), then the correction applies; both stay in the timeline', async () => {
    const police = fx.party('xa-border-police');
    const { id, ref } = await referral();
    const wrong = await decide(id, { decision: 'REFERRAL_DECISION_KIND_DECLINED', reason: 'insufficient evidence' });
    await fx.caseIn(ref, 'declined');

    const corrected = await fx.party('xa-prosecutor').client.correct(wrong.id, { referralId: id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED', assignedProgramme: 'prosecution unit 2' });
    const c = await fx.caseIn(ref, 'accepted');
    const decline = c.timeline.find((s) => s.messageId === wrong.id)!;
    expect(decline.retracted).toMatchObject({ replacedBy: corrected.correctedId });
    expect(retractStep(c)).toEqual([expect.objectContaining({ from: 'declined', to: 'referred', actor: 'xa-prosecutor' })]);
    expect(c.timeline.at(-1)).toMatchObject({ messageId: corrected.correctedId, transition: 'accept', from: 'referred', to: 'accepted' });
    expect(c.applied).toEqual(expect.arrayContaining([wrong.id, corrected.correctedId]));
    // The correction was not refused on its way (it waited for its Retraction if it came first).
    expect(police.notices('WorkflowRejection').some((r) => r.causeMessageId === corrected.correctedId)).toBe(false);
    await until(() => police.notices('WorkflowStateChange', ref).map((n) => n.toState).join() === 'referred,declined,referred,accepted');
    // `case show` (CaseQuery) marks the retracted step.
    const shown = ((await police.client.request('CaseQuery', { caseRef: ref })).body.cases as { timeline: { messageId: string; note: string }[] }[])[0]!;
    expect(shown.timeline.find((s) => s.messageId === wrong.id)!.note).toContain(`[RETRACTED by its sender: corrected; replaced by ${corrected.correctedId}]`);
  });

  it('retracting a step the case has moved on from marks it, keeps the state and names the later steps that stand on it', async () => {
    const prosecutor = fx.party('xa-prosecutor');
    const police = fx.party('xa-border-police');
    const { id, ref } = await referral();
    const ack = await prosecutor.client.send('ReferralAcknowledgement', { referralId: id, recipientReference: 'PR-77' }, { to: 'xa-border-police' });
    await fx.caseIn(ref, 'acknowledged');
    await decide(id, { decision: 'REFERRAL_DECISION_KIND_ACCEPTED' });
    await fx.caseIn(ref, 'accepted');

    await prosecutor.client.retract(ack.id, 'wrong reference given');
    await until(() => retractStep(fx.caseOf(ref)!).length === 1 && fx.caseOf(ref)!.outbox.length === 0);
    const c = fx.caseOf(ref)!;
    expect(c.state).toBe('accepted');
    expect(c.timeline.find((s) => s.messageId === ack.id)!.retracted).toBeDefined();
    expect(retractStep(c)[0]).toMatchObject({ from: 'accepted', to: 'accepted' });
    expect(retractStep(c)[0]!.note).toContain('ReferralDecision');
    await until(() => police.notices('WorkflowStateChange', ref).some((n) => n.transition === 'retract'));
  });

  it('only the sender may retract: a Retraction forged by another agency is refused (ERR_RETRACT_NOT_SENDER) and changes nothing', async () => {
    const xb = fx.party('xb-police');
    const { id, ref } = await referral();
    const before = fx.caseOf(ref)!;
    const forged = await xb.client.send('Retraction', { originalId: id, originalType: 'CaseReferral', reason: 'forged', replacedBy: '' }, { to: 'mac-cases' });
    await until(() => xb.notices('WorkflowRejection').some((r) => r.causeMessageId === forged.id));
    expect(xb.notices('WorkflowRejection').find((r) => r.causeMessageId === forged.id)).toMatchObject({ code: 'ERR_RETRACT_NOT_SENDER', caseRef: ref });
    const after = fx.caseOf(ref)!;
    expect(after.state).toBe('referred');
    expect(after.timeline).toEqual(before.timeline);
  });

  it('a corrected course offer re-opens its case under the same key with the corrected seats; the history stays', async () => {
    const institute = fx.party('xc-training');
    const offer = (seats: number) => ({
      courseCode: 'RET-101',
      title: 'Evidence at sea',
      eligibleRoles: ['TRAINEE_ROLE_BORDER_OFFICER'],
      seats,
      delivery: 'DELIVERY_MODE_IN_PERSON',
      enrolBy: new Date(fx.clock.now() + 30 * DAY).toISOString(),
    });
    const first = await institute.client.send('TrainingOffer', offer(40), { to: 'all' });
    const ref = `training.xc-training.${keyToken('RET-101')}`;
    await until(() => fx.caseOf(ref)?.timeline.length === 1, 8_000, `course case ${ref}`);
    const state = fx.caseOf(ref)!.state;
    expect(fx.caseOf(ref)!.data.seats).toBe(40);

    const corrected = await institute.client.correct(first.id, offer(12), 'seat count was wrong');
    await until(() => fx.caseOf(ref)?.applied.includes(corrected.correctedId) === true && fx.caseOf(ref)!.outbox.length === 0, 8_000, 'corrected offer applied');
    const c = fx.caseOf(ref)!;
    expect(c.state).toBe(state);
    expect(c.data.seats).toBe(12);
    expect(c.timeline.map((s) => [s.transition, s.to])).toEqual([
      ['open', state],
      ['retract', 'withdrawn'],
      ['open', state],
    ]);
    expect(c.timeline[0]!.retracted).toMatchObject({ replacedBy: corrected.correctedId });
    expect(institute.notices('WorkflowRejection').some((r) => r.causeMessageId === corrected.correctedId)).toBe(false);
  });
});
