import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf, startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const iso = (ms: number) => new Date(ms).toISOString();
const person = { name: { familyName: 'Moreau', givenNames: 'Luc' }, birthDate: '1979-11-23', nationalities: ['XBB'] };

function mlaRequest(overrides: Record<string, unknown> = {}) {
  return {
    requestReference: 'XA-MLA-2026-117',
    legalBasis: 'UNTOC art. 18; Smuggling of Migrants Protocol art. 6',
    requestingAuthority: 'Xandria Prosecutor General, organised crime unit',
    summary: 'Bank records of the company used to collect smuggling fees; statements of two crew members',
    facts: 'Fees of 4 000 EUR per person collected through Seaways Ltd for crossings from Port Zeta.',
    offences: ['PROTOCOL_OFFENCE_SMUGGLING'],
    personsConcerned: [person],
    measures: ['MEASURE_TAKING_EVIDENCE', 'MEASURE_BANK_RECORDS', 'MEASURE_FREEZING'],
    assets: [{ kind: 'bank account', description: 'current account of Seaways Ltd at Bellmark Savings', identifier: 'XB27 0001 4455 9981', holder: 'Seaways Ltd', estimatedValue: '180000000', currency: 'EUR' }],
    urgency: 'URGENCY_URGENT',
    urgencyReason: 'risk that the funds are moved',
    partialExecutionAccepted: true,
    contactPoint: 'central authority duty officer',
    ...overrides,
  };
}

describe('mutual legal assistance request (¶13, ¶9(c); UNTOC art. 18) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-mla', ['xa-prosecutor', 'xb-prosecutor', 'xc-prosecutor', 'mac-centre']);
  });
  afterAll(async () => fx?.stop());

  /** xa-prosecutor asks xb-prosecutor; returns the request receipt, its case ref and an answer helper. */
  async function request(overrides: Record<string, unknown> = {}) {
    const requester = fx.party('xa-prosecutor');
    const sent = await requester.client.send('MutualLegalAssistanceRequest', mlaRequest(overrides), { to: 'xb-prosecutor', caseRef: 'XA-MLA-2026-117' });
    const ref = `mla-request.${sent.id}`;
    const answer = (body: Record<string, unknown>, from = 'xb-prosecutor', to = 'xa-prosecutor') =>
      fx.party(from).client.send('MutualLegalAssistanceResponse', { requestId: sent.id, requestReference: 'XA-MLA-2026-117', ...body }, { to, caseRef: 'XB-MJ-55' });
    return { sent, ref, answer };
  }

  it('happy path: requested → partially executed (freezing first) → executed, each step told to both central authorities', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const opened = fx.clock.now();
    const { sent, ref, answer } = await request();
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0).toMatchObject({ workflow: 'mla-request', kind: 'urgent', requester: 'xa-prosecutor', requested: 'xb-prosecutor', externalRef: 'XA-MLA-2026-117' });
    // No deadline in the request: an urgent one is due in 14 days, owed by the requested authority.
    expect(c0.deadlines).toEqual([expect.objectContaining({ name: 'response', party: 'xb-prosecutor', dueAt: opened + 14 * DAY, awaited: 'MutualLegalAssistanceResponse' })]);
    // The registry holds case metadata, never the facts, the persons or the account numbers.
    expect(JSON.stringify(c0)).not.toContain('Seaways');
    expect(JSON.stringify(c0)).not.toContain('Moreau');
    expect(JSON.stringify(c0)).not.toContain('XB27');

    // The freezing is urgent: executed first, the rest expected within ten days.
    const rest = fx.clock.now() + 10 * DAY;
    await answer({ status: 'EXECUTION_STATUS_PARTIALLY_EXECUTED', executedMeasures: ['MEASURE_FREEZING'], reasons: 'statements to be taken at the next hearing', expectedCompletion: iso(rest) });
    const c1 = await fx.caseIn(ref, 'partially-executed');
    expect(c1.timeline.at(-1)!.note).toBe('1 of 3 measures executed');
    expect(c1.deadlines).toEqual([expect.objectContaining({ name: 'completion', party: 'xb-prosecutor', dueAt: rest })]);

    await answer({ status: 'EXECUTION_STATUS_EXECUTED', executedMeasures: ['MEASURE_TAKING_EVIDENCE', 'MEASURE_BANK_RECORDS'], transmission: 'secure channel' });
    const c = await fx.caseIn(ref, 'executed');
    expect(c.timeline.map((s) => [s.transition, s.from, s.to, s.actor])).toEqual([
      ['open', '', 'requested', 'xa-prosecutor'],
      ['execute-in-part', 'requested', 'partially-executed', 'xb-prosecutor'],
      ['execute', 'partially-executed', 'executed', 'xb-prosecutor'],
    ]);
    expect(c.timeline[0]!.messageId).toBe(sent.id);
    expect(c.timeline[0]!.signedBy).toBe(xa.client.identity.key.kid);
    expect(c.timeline[2]!.signedBy).toBe(xb.client.identity.key.kid);
    expect(c.deadlines).toEqual([]);
    for (const p of [xa, xb]) {
      await until(() => p.notices('WorkflowStateChange', ref).length === 3);
      expect(p.notices('WorkflowStateChange', ref).map((n) => n.toState)).toEqual(['requested', 'partially-executed', 'executed']);
    }
    const shown = await xa.client.request('CaseQuery', { caseRef: ref });
    expect((shown.body.cases as Record<string, unknown>[]).map((x) => x.state)).toEqual(['executed']);

    // After closure nothing changes the case.
    const late = await answer({ status: 'EXECUTION_STATUS_PARTIALLY_EXECUTED', executedMeasures: ['MEASURE_BANK_RECORDS'] });
    const closed = await rejectionOf(xb, late.id);
    expect(closed).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', caseRef: ref, currentState: 'executed' });
    // Protobuf JSON omits an empty list: nothing is allowed on a closed case.
    expect(closed.allowedNow ?? []).toEqual([]);
    expect(fx.caseOf(ref)!.timeline).toHaveLength(3);
  });

  it('a second partial execution moves the completion deadline to the new expected date', async () => {
    const { ref, answer } = await request({ urgency: 'URGENCY_ROUTINE' });
    await fx.caseIn(ref, 'requested');
    const first = fx.clock.now() + 5 * DAY;
    await answer({ status: 'EXECUTION_STATUS_PARTIALLY_EXECUTED', executedMeasures: ['MEASURE_FREEZING'], expectedCompletion: iso(first) });
    await until(() => fx.caseOf(ref)?.timeline.length === 2 && fx.caseOf(ref)!.outbox.length === 0);
    expect(fx.caseOf(ref)!.deadlines.map((d) => d.dueAt)).toEqual([first]);
    const second = fx.clock.now() + 20 * DAY;
    await answer({ status: 'EXECUTION_STATUS_PARTIALLY_EXECUTED', executedMeasures: ['MEASURE_FREEZING', 'MEASURE_BANK_RECORDS'], expectedCompletion: iso(second) });
    await until(() => fx.caseOf(ref)?.timeline.length === 3 && fx.caseOf(ref)!.outbox.length === 0);
    const c = fx.caseOf(ref)!;
    expect(c.state).toBe('partially-executed');
    expect(c.timeline.at(-1)!.note).toBe('2 of 3 measures executed');
    expect(c.deadlines).toEqual([expect.objectContaining({ name: 'completion', party: 'xb-prosecutor', dueAt: second, reminded: false })]);
  });

  it('guards at opening: a legal basis, the measures, and the assets for freezing (¶9(c)); the case is not opened', async () => {
    const xa = fx.party('xa-prosecutor');
    const send = (overrides: Record<string, unknown>) => xa.client.send('MutualLegalAssistanceRequest', mlaRequest(overrides), { to: 'xb-prosecutor' });
    const noAssets = await send({ measures: ['MEASURE_BANK_RECORDS', 'MEASURE_FREEZING'], assets: [] });
    const noBasis = await send({ legalBasis: '' });
    const noMeasures = await send({ measures: [] });
    const confiscation = await send({ measures: ['MEASURE_CONFISCATION'], assets: [] });
    for (const [msg, words] of [
      [noAssets, 'MEASURE_FREEZING needs the assets'],
      [noBasis, 'legal basis'],
      [noMeasures, 'measures requested'],
      [confiscation, 'MEASURE_CONFISCATION needs the assets'],
    ] as const) {
      const r = await rejectionOf(xa, msg.id);
      expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: `mla-request.${msg.id}`, refusedSender: 'xa-prosecutor' });
      expect(r.currentState ?? '').toBe('');
      expect(String(r.reason)).toContain(words);
      expect(fx.caseOf(`mla-request.${msg.id}`)).toBeUndefined();
    }
    // The requested authority, which received the request, is told it opened no case.
    await rejectionOf(fx.party('xb-prosecutor'), noAssets.id);

    // Evidence measures alone need no assets; freezing with the assets named opens the case.
    const evidence = await send({ measures: ['MEASURE_TAKING_EVIDENCE'], assets: [] });
    await fx.caseIn(`mla-request.${evidence.id}`, 'requested');
    const freezing = await send({ measures: ['MEASURE_FREEZING'] });
    await fx.caseIn(`mla-request.${freezing.id}`, 'requested');
  });

  it('a refusal needs reasons (art. 18(23)); with reasons it ends the case, and a later answer changes nothing', async () => {
    const xb = fx.party('xb-prosecutor');
    const { ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    const bare = await answer({ status: 'EXECUTION_STATUS_REFUSED' });
    const r = await rejectionOf(xb, bare.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref, currentState: 'requested' });
    expect(String(r.reason)).toContain('reasons');
    expect(r.allowedNow).toEqual(['MutualLegalAssistanceResponse']);
    await rejectionOf(fx.party('xa-prosecutor'), bare.id);
    // A postponement without reasons is refused the same way (art. 18(25)).
    const postpone = await answer({ status: 'EXECUTION_STATUS_POSTPONED' });
    expect(await rejectionOf(xb, postpone.id)).toMatchObject({ code: 'ERR_WORKFLOW_GUARD' });
    expect(fx.caseOf(ref)!.timeline).toHaveLength(1);

    await answer({ status: 'EXECUTION_STATUS_REFUSED', reasons: 'the conduct is not an offence in Bellmark for the assets concerned (art. 18(9))' });
    const c = await fx.caseIn(ref, 'refused');
    expect(c.deadlines).toEqual([]);
    const after = await answer({ status: 'EXECUTION_STATUS_EXECUTED' });
    expect(await rejectionOf(xb, after.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'refused' });
    expect(fx.caseOf(ref)!.timeline.map((s) => s.to)).toEqual(['requested', 'refused']);
  });

  it('a deadline that passes: the requested authority is reminded at the due time, the supervisor role is told after seven days', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const centre = fx.party('mac-centre');
    const due = fx.clock.now() + 2 * HOUR;
    const { ref } = await request({ urgency: 'URGENCY_IMMEDIATE', deadline: iso(due) });
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0.kind).toBe('immediate');
    expect(c0.deadlines.map((d) => [d.name, d.party, d.dueAt])).toEqual([['response', 'xb-prosecutor', due]]);
    await fx.wf.tick();
    expect(xb.notices('WorkflowReminder', ref)).toEqual([]);

    fx.clock.advance(3 * HOUR);
    await fx.wf.tick();
    await until(() => xb.notices('WorkflowReminder', ref).length === 1);
    expect(xb.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xb-prosecutor', awaited: 'MutualLegalAssistanceResponse', state: 'requested', deadline: 'response', dueAt: iso(due) });
    expect(xa.notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);
    // Not yet past the grace period: a second tick sends nothing more.
    fx.clock.advance(6 * DAY);
    await fx.wf.tick();
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);
    expect(xb.notices('WorkflowReminder', ref)).toHaveLength(1);

    fx.clock.advance(DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xb-prosecutor', supervisorRole: 'analyst-centre', awaited: 'MutualLegalAssistanceResponse' });
    await fx.wf.tick();
    expect(centre.notices('WorkflowEscalation', ref)).toHaveLength(1);
    const c = fx.caseOf(ref)!;
    expect(c.state).toBe('requested');
    expect(c.supervisors).toEqual(['mac-centre']);
    expect(c.timeline.map((s) => s.transition)).toEqual(['open', 'reminder:response', 'escalation:response']);
    const shown = await centre.client.request('CaseQuery', { caseRef: ref });
    expect((shown.body.cases as Record<string, unknown>[]).map((x) => x.caseRef)).toEqual([ref]);
  });

  it('more information needed: the case waits on the requester, whose deadline it is (reminder, then escalation)', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const centre = fx.party('mac-centre');
    const { ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    const asked = fx.clock.now();
    await answer({ status: 'EXECUTION_STATUS_MORE_INFORMATION_NEEDED', reasons: 'the account holder and the bank branch must be identified' });
    const c = await fx.caseIn(ref, 'information-requested');
    expect(c.deadlines).toEqual([expect.objectContaining({ name: 'information', party: 'xa-prosecutor', dueAt: asked + 14 * DAY, graceMs: 7 * DAY })]);
    await until(() => xa.notices('WorkflowStateChange', ref).length === 2);
    expect(xa.notices('WorkflowStateChange', ref)[1]).toMatchObject({ toState: 'information-requested', nextDeadlineParty: 'xa-prosecutor', nextDeadline: iso(asked + 14 * DAY) });

    fx.clock.advance(14 * DAY + HOUR);
    await fx.wf.tick();
    await until(() => xa.notices('WorkflowReminder', ref).length === 1);
    expect(xa.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-prosecutor', state: 'information-requested', deadline: 'information' });
    expect(xb.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(7 * DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xa-prosecutor', state: 'information-requested' });

    // The requested authority may still execute once it has what it needs.
    await answer({ status: 'EXECUTION_STATUS_EXECUTED' });
    await fx.caseIn(ref, 'executed');
  });

  it('non-party, wrong party and an answer no transition knows are refused with typed rejections; the case is unchanged', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const xc = fx.party('xc-prosecutor');
    const { ref, answer } = await request();
    const before = await fx.caseIn(ref, 'requested');

    // A third central authority answering a request made to Bellmark.
    const outsider = await answer({ status: 'EXECUTION_STATUS_EXECUTED' }, 'xc-prosecutor', 'xa-prosecutor');
    // The requester answering its own request.
    const own = await answer({ status: 'EXECUTION_STATUS_EXECUTED' }, 'xa-prosecutor', 'xb-prosecutor');
    // An answer without a status.
    const blank = await answer({ reasons: 'see annex' });
    const outsiderR = await rejectionOf(xc, outsider.id);
    expect(outsiderR).toMatchObject({ code: 'ERR_WORKFLOW_NOT_A_PARTY', caseRef: ref, refusedSender: 'xc-prosecutor' });
    expect(outsiderR.allowedNow ?? []).toEqual([]);
    expect(String(outsiderR.reason)).toContain('xc-prosecutor is not a party');
    // The agency the outsider wrote to is told too.
    await rejectionOf(xa, outsider.id);
    const ownR = await rejectionOf(xa, own.id);
    expect(ownR).toMatchObject({ code: 'ERR_WORKFLOW_WRONG_PARTY', currentState: 'requested' });
    expect(ownR.allowedNow ?? []).toEqual([]);
    expect(String(ownR.reason)).toContain('only the requested');
    expect(await rejectionOf(xb, blank.id)).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', allowedNow: ['MutualLegalAssistanceResponse'] });

    const after = fx.caseOf(ref)!;
    expect(after.state).toBe('requested');
    expect(after.timeline).toEqual(before.timeline);
    expect(after.applied).toEqual([before.timeline[0]!.messageId]);
    // The outsider cannot look the case up either.
    const shown = await xc.client.request('CaseQuery', { caseRef: ref });
    expect(shown.body.cases ?? []).toEqual([]);
  });
});

function extraditionRequest(overrides: Record<string, unknown> = {}) {
  return {
    requestReference: 'XB-EXT-2026-09',
    legalBasis: 'UNTOC art. 16; Smuggling of Migrants Protocol art. 6',
    person,
    personLocation: 'believed to reside in Port Alba, Xandria',
    purpose: 'EXTRADITION_PURPOSE_PROSECUTION',
    offences: ['PROTOCOL_OFFENCE_SMUGGLING', 'PROTOCOL_OFFENCE_AGGRAVATED_ENDANGERING'],
    judicialReference: 'Bellmark District Court warrant 2026/881',
    facts: 'Organised three crossings in overcrowded fishing vessels; one capsized.',
    penalty: 'up to 15 years',
    urgency: 'URGENCY_ROUTINE',
    contactPoint: 'extradition desk',
    ...overrides,
  };
}

describe('extradition request (¶13; UNTOC art. 16) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-extradition', ['xa-prosecutor', 'xb-prosecutor', 'xc-prosecutor', 'mac-centre']);
  });
  afterAll(async () => fx?.stop());

  /** xb-prosecutor asks xa-prosecutor to extradite. */
  async function request(overrides: Record<string, unknown> = {}) {
    const sent = await fx.party('xb-prosecutor').client.send('ExtraditionRequest', extraditionRequest(overrides), { to: 'xa-prosecutor', caseRef: 'XB-EXT-2026-09' });
    const ref = `extradition.${sent.id}`;
    const answer = (body: Record<string, unknown>, from = 'xa-prosecutor', to = 'xb-prosecutor') =>
      fx.party(from).client.send('ExtraditionResponse', { requestId: sent.id, requestReference: 'XB-EXT-2026-09', ...body }, { to });
    return { sent, ref, answer };
  }

  it('happy path: requested → granted with conditions, told to both; the default deadline is 60 days; nothing changes it afterwards', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const opened = fx.clock.now();
    const { ref, answer } = await request();
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0).toMatchObject({ workflow: 'extradition', kind: 'routine', requester: 'xb-prosecutor', requested: 'xa-prosecutor', externalRef: 'XB-EXT-2026-09' });
    expect(c0.deadlines).toEqual([expect.objectContaining({ name: 'decision', party: 'xa-prosecutor', dueAt: opened + 60 * DAY, graceMs: 7 * DAY })]);
    expect(JSON.stringify(c0)).not.toContain('Moreau');
    expect(JSON.stringify(c0)).not.toContain('capsized');

    await answer({ decision: 'EXTRADITION_DECISION_GRANTED_WITH_CONDITIONS', conditions: 'returned to serve any sentence in Xandria (art. 16(11))', surrenderAt: iso(fx.clock.now() + 10 * DAY), surrenderPlace: 'Port Alba airport' });
    const c = await fx.caseIn(ref, 'granted');
    expect(c.timeline.map((s) => [s.transition, s.from, s.to, s.actor, s.note])).toEqual([
      ['open', '', 'requested', 'xb-prosecutor', ''],
      ['grant', 'requested', 'granted', 'xa-prosecutor', 'granted with conditions'],
    ]);
    expect(c.timeline[1]!.signedBy).toBe(xa.client.identity.key.kid);
    expect(c.deadlines).toEqual([]);
    for (const p of [xa, xb]) {
      await until(() => p.notices('WorkflowStateChange', ref).length === 2);
      expect(p.notices('WorkflowStateChange', ref).map((n) => n.toState)).toEqual(['requested', 'granted']);
    }

    const again = await answer({ decision: 'EXTRADITION_DECISION_REFUSED', ground: 'changed our mind' });
    expect(await rejectionOf(xa, again.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'granted' });
    expect(fx.caseOf(ref)!.timeline).toHaveLength(2);
  });

  it('a refusal needs its ground; refused on nationality with the case submitted for domestic prosecution (art. 16(10))', async () => {
    const xa = fx.party('xa-prosecutor');
    const { ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    const bare = await answer({ decision: 'EXTRADITION_DECISION_REFUSED' });
    const r = await rejectionOf(xa, bare.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref, currentState: 'requested' });
    expect(String(r.reason)).toContain('ground');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(1);

    await answer({ decision: 'EXTRADITION_DECISION_REFUSED', ground: 'the person is a national of Xandria', submittedForDomesticProsecution: true });
    const c = await fx.caseIn(ref, 'refused');
    expect(c.timeline.at(-1)).toMatchObject({ transition: 'refuse', note: 'refused; submitted for domestic prosecution (art. 16(10))' });
    await until(() => fx.party('xb-prosecutor').notices('WorkflowStateChange', ref).length === 2);
    expect(fx.party('xb-prosecutor').notices('WorkflowStateChange', ref)[1]).toMatchObject({ toState: 'refused', note: 'refused; submitted for domestic prosecution (art. 16(10))' });

    // A refusal on another ground is recorded as a plain refusal.
    const other = await request();
    await fx.caseIn(other.ref, 'requested');
    await other.answer({ decision: 'EXTRADITION_DECISION_REFUSED', ground: 'insufficient evidence of dual criminality' });
    expect((await fx.caseIn(other.ref, 'refused')).timeline.at(-1)!.note).toBe('refused');
  });

  it('postponed: a fresh 60-day deadline; postponing again is an illegal transition; then granted', async () => {
    const xa = fx.party('xa-prosecutor');
    const { ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    const at = fx.clock.now();
    await answer({ decision: 'EXTRADITION_DECISION_POSTPONED', ground: 'the person is being prosecuted in Xandria for another offence' });
    const c = await fx.caseIn(ref, 'postponed');
    expect(c.deadlines).toEqual([expect.objectContaining({ name: 'decision', party: 'xa-prosecutor', dueAt: at + 60 * DAY, graceMs: 14 * DAY, reminded: false })]);

    const twice = await answer({ decision: 'EXTRADITION_DECISION_POSTPONED', ground: 'still prosecuted' });
    const r = await rejectionOf(xa, twice.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', currentState: 'postponed' });
    expect(String(r.reason)).toContain('not allowed in state postponed');
    // No transition for an answer without a decision at all.
    const blank = await answer({ ground: 'see letter' });
    expect(await rejectionOf(xa, blank.id)).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION' });
    expect(fx.caseOf(ref)!.timeline).toHaveLength(2);

    await answer({ decision: 'EXTRADITION_DECISION_GRANTED' });
    const done = await fx.caseIn(ref, 'granted');
    expect(done.timeline.map((s) => s.transition)).toEqual(['open', 'postpone', 'grant']);
    expect(done.timeline.at(-1)!.note).toBe('granted');
  });

  it('provisional arrest shortens the default deadline to two days: reminder to the requested state, then escalation to the supervisor', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const centre = fx.party('mac-centre');
    const opened = fx.clock.now();
    const { ref, answer } = await request({ provisionalArrestRequested: true, urgency: 'URGENCY_IMMEDIATE' });
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0.kind).toBe('immediate');
    expect(c0.deadlines.map((d) => [d.name, d.party, d.dueAt])).toEqual([['decision', 'xa-prosecutor', opened + 2 * DAY]]);

    fx.clock.advance(2 * DAY - HOUR);
    await fx.wf.tick();
    expect(xa.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(2 * HOUR);
    await fx.wf.tick();
    await until(() => xa.notices('WorkflowReminder', ref).length === 1);
    expect(xa.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-prosecutor', awaited: 'ExtraditionResponse', deadline: 'decision', dueAt: iso(opened + 2 * DAY) });
    expect(xb.notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);

    fx.clock.advance(7 * DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xa-prosecutor', supervisorRole: 'analyst-centre', parties: ['xb-prosecutor', 'xa-prosecutor'] });
    expect(fx.caseOf(ref)!.supervisors).toEqual(['mac-centre']);

    // A late answer is still accepted: the deadline reminds, it does not decide.
    await answer({ decision: 'EXTRADITION_DECISION_PERSON_NOT_FOUND' });
    expect((await fx.caseIn(ref, 'person-not-found')).deadlines).toEqual([]);
  });

  it('non-party and wrong party are refused; a request without a legal basis opens no case', async () => {
    const xa = fx.party('xa-prosecutor');
    const xb = fx.party('xb-prosecutor');
    const xc = fx.party('xc-prosecutor');
    const { ref, answer } = await request();
    const before = await fx.caseIn(ref, 'requested');

    const outsider = await answer({ decision: 'EXTRADITION_DECISION_GRANTED' }, 'xc-prosecutor', 'xb-prosecutor');
    const own = await answer({ decision: 'EXTRADITION_DECISION_GRANTED' }, 'xb-prosecutor', 'xa-prosecutor');
    expect(await rejectionOf(xc, outsider.id)).toMatchObject({ code: 'ERR_WORKFLOW_NOT_A_PARTY', caseRef: ref, refusedSender: 'xc-prosecutor' });
    await rejectionOf(xb, outsider.id);
    const ownR = await rejectionOf(xb, own.id);
    expect(ownR).toMatchObject({ code: 'ERR_WORKFLOW_WRONG_PARTY', currentState: 'requested' });
    expect(String(ownR.reason)).toContain('only the requested');
    expect(fx.caseOf(ref)!.timeline).toEqual(before.timeline);

    const noBasis = await xb.client.send('ExtraditionRequest', extraditionRequest({ legalBasis: '' }), { to: 'xa-prosecutor' });
    const r = await rejectionOf(xb, noBasis.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD' });
    expect(String(r.reason)).toContain('legal basis');
    await rejectionOf(xa, noBasis.id);
    expect(fx.caseOf(`extradition.${noBasis.id}`)).toBeUndefined();
  });
});
