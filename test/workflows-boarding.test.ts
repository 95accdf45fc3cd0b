import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldsAboveTier, fromJson } from '../services/sdk/schema/index.ts';
import { messageSubject } from '../services/sdk/subjects.ts';
import { boarding } from '../services/workflows/definitions/boarding.ts';
import { applyMessage, openCase } from '../services/workflows/engine.ts';
import { lackingSafeguards } from '../services/sdk/envelope/safeguards.ts';
import type { TransitionContext, WorkflowMessage } from '../services/workflows/model.ts';
import { RawAgency } from './support/violations.ts';
import { rejectionOf, startWorkflowFixture, until, workflowPolicyText, type WorkflowFixture } from './support/workflows.ts';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Xandria's and Bellmark's designated authorities are in the example policy; Corvenia's is added as a third state. */
async function policyWithThirdState(): Promise<string> {
  return (await workflowPolicyText()).replace(
    /\n  mac-cases: .*\n/,
    (line) => `${line}  xc-maritime: { name: Corvenia Maritime Rescue Coordination Centre, country: XCC, roles: [maritime-authority] }\n`,
  );
}

const SAFE = {
  safetyAndHumaneTreatment: true,
  vesselAndCargoNotEndangered: true,
  flagStateInterestsRespected: true,
  notes: 'boarding team with medical staff; no use of force; the master informed',
};

function boardingRequest(overrides: Record<string, unknown> = {}) {
  return {
    requestReference: 'XA-CG-BRD-2026-07',
    vessel: { name: 'Marisol', imoNumber: 'IMO 9234567', flagState: 'XBB', kind: 'fishing vessel' },
    position: '35.12,18.44',
    grounds: 'Fishing vessel with some 60 persons on deck, no fishing gear, heading for the Xandrian coast at night without lights',
    measuresRequested: ['BOARDING_MEASURE_BOARD', 'BOARDING_MEASURE_SEARCH', 'BOARDING_MEASURE_DISEMBARK_PERSONS'],
    urgency: 'BOARDING_URGENCY_URGENT',
    personsOnBoardEstimate: 60,
    childrenOnBoardEstimate: 8,
    intelligence: 'Source SEA-17: departure from Port Zeta arranged by the Tahiri network',
    contactPoint: 'Xandria MRCC duty officer',
    ...overrides,
  };
}

function measuresReport(requestId: string, overrides: Record<string, unknown> = {}) {
  return {
    requestId,
    requestReference: 'XA-CG-BRD-2026-07',
    measuresTaken: ['BOARDING_MEASURE_BOARD', 'BOARDING_MEASURE_SEARCH', 'BOARDING_MEASURE_DISEMBARK_PERSONS', 'BOARDING_MEASURE_DETAIN_SUSPECTS'],
    position: '35.20,18.40',
    vessel: { name: 'Marisol', imoNumber: 'IMO 9234567', flagState: 'XBB' },
    summary: 'Boarded without resistance; 61 persons taken on board the patrol vessel; two crew members detained',
    evidence: 'Satellite phone and a ledger of payments found in the wheelhouse',
    suspectsDetained: [{ name: { familyName: 'Tahiri', givenNames: 'Karim' }, nationalities: ['XZZ'] }],
    migrantsCount: 61,
    childrenCount: 9,
    womenCount: 14,
    disembarkationPlace: 'Port Alba, quay 3',
    humanitarianNeeds: ['2 pregnant women', '3 unaccompanied children', '1 person with burns needing care'],
    safeguards: SAFE,
    vesselDisposition: 'escorted to Port Alba and seized',
    ...overrides,
  };
}

describe('boarding authorisation at sea (¶18; Smuggling of Migrants Protocol arts. 8–9) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture(
      'wf-boarding',
      ['xa-coast-guard', 'xb-police', 'xc-maritime', 'xa-border-police', 'xb-prosecutor', 'xa-ngo-harbour', 'mac-centre'],
      { 'xb-police': ['BoardingAuthorisationRequest', 'BoardingMeasuresReport'], 'xa-ngo-harbour': ['BoardingMeasuresReport'] },
      await policyWithThirdState(),
    );
  });
  afterAll(async () => fx?.stop());

  /** Xandria's coast guard asks Bellmark's designated authority about a vessel flying Bellmark's flag. */
  async function request(overrides: Record<string, unknown> = {}) {
    const sent = await fx.party('xa-coast-guard').client.send('BoardingAuthorisationRequest', boardingRequest(overrides), { to: 'xb-police', caseRef: 'XA-CG-BRD-2026-07' });
    const ref = `boarding.${sent.id}`;
    const answer = (body: Record<string, unknown>, from = 'xb-police', to = 'xa-coast-guard') =>
      fx.party(from).client.send('BoardingAuthorisationResponse', { requestId: sent.id, requestReference: 'XA-CG-BRD-2026-07', ...body }, { to, caseRef: 'XB-FLAG-88' });
    const report = (body: Record<string, unknown> = {}, to = 'xb-police', from = 'xa-coast-guard') =>
      fx.party(from).client.send('BoardingMeasuresReport', measuresReport(sent.id, body), { to, caseRef: 'XA-CG-BRD-2026-07' });
    return { sent, ref, answer, report };
  }

  it('happy path: requested → registry confirmed → authorised with conditions → results reported to the flag state, then to the NGO receiving the persons', async () => {
    const xa = fx.party('xa-coast-guard');
    const xb = fx.party('xb-police');
    const opened = fx.clock.now();
    const { sent, ref, answer, report } = await request();
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0).toMatchObject({ workflow: 'boarding', kind: 'urgent', requester: 'xa-coast-guard', requested: 'xb-police', externalRef: 'XA-CG-BRD-2026-07' });
    // Urgent and no respond_by: the flag state owes an answer within four hours.
    expect(c0.deadlines).toEqual([expect.objectContaining({ name: 'answer', party: 'xb-police', dueAt: opened + 4 * HOUR, awaited: 'BoardingAuthorisationResponse' })]);
    // The flag state's designated authority got the request whole (special tier); the registry keeps case metadata only.
    await until(() => xb.inbox.some((m) => m.header.id === sent.id));
    const got = xb.inbox.find((m) => m.header.id === sent.id)!;
    expect(got.header.tier).toBe('special');
    expect(got.body.intelligence).toContain('SEA-17');
    expect(JSON.stringify(c0)).not.toContain('SEA-17');
    expect(JSON.stringify(c0)).not.toContain('Tahiri');

    await answer({ decision: 'BOARDING_DECISION_REGISTRY_CONFIRMED', registryDetails: 'registered at Port Bell, no. PB-4471' });
    const c1 = await fx.caseIn(ref, 'registry-confirmed');
    expect(c1.deadlines).toEqual([expect.objectContaining({ name: 'answer', party: 'xb-police', dueAt: opened + 4 * HOUR })]);
    const authorisedAt = fx.clock.now();
    await answer({
      decision: 'BOARDING_DECISION_AUTHORISED_WITH_CONDITIONS',
      measuresAuthorised: ['BOARDING_MEASURE_BOARD', 'BOARDING_MEASURE_SEARCH', 'BOARDING_MEASURE_DISEMBARK_PERSONS', 'BOARDING_MEASURE_DETAIN_SUSPECTS'],
      conditions: 'Bellmark keeps jurisdiction over the crew; no seizure of the vessel without further consent',
      safeguards: SAFE,
      validUntil: iso(fx.clock.now() + 12 * HOUR),
    });
    const c2 = await fx.caseIn(ref, 'authorised');
    expect(c2.timeline.at(-1)).toMatchObject({ transition: 'authorise', actor: 'xb-police', note: 'authorised with conditions (art. 8(5))' });
    // The requesting state must now report promptly: its deadline.
    expect(c2.deadlines).toEqual([expect.objectContaining({ name: 'report', party: 'xa-coast-guard', dueAt: authorisedAt + 24 * HOUR })]);

    const first = await report();
    const c3 = await fx.caseIn(ref, 'reported');
    expect(c3.deadlines).toEqual([]);
    const copy = await report({}, 'xa-ngo-harbour');
    await until(() => fx.caseOf(ref)!.timeline.length === 5 && fx.caseOf(ref)!.outbox.length === 0);
    const c = fx.caseOf(ref)!;
    expect(c.timeline.map((s) => [s.transition, s.from, s.to, s.actor])).toEqual([
      ['open', '', 'requested', 'xa-coast-guard'],
      ['confirm-registry', 'requested', 'registry-confirmed', 'xb-police'],
      ['authorise', 'registry-confirmed', 'authorised', 'xb-police'],
      ['report', 'authorised', 'reported', 'xa-coast-guard'],
      ['report-further', 'reported', 'reported', 'xa-coast-guard'],
    ]);
    expect(c.timeline[4]!.note).toBe('further report to xa-ngo-harbour');
    expect(c.timeline[0]!.signedBy).toBe(xa.client.identity.key.kid);
    expect(c.timeline[2]!.signedBy).toBe(xb.client.identity.key.kid);
    for (const p of [xa, xb]) {
      await until(() => p.notices('WorkflowStateChange', ref).length === 5);
      expect(p.notices('WorkflowStateChange', ref).map((n) => n.toState)).toEqual(['requested', 'registry-confirmed', 'authorised', 'reported', 'reported']);
    }
    expect(JSON.stringify(c)).not.toContain('Tahiri');
    expect(JSON.stringify(c)).not.toContain('ledger');

    // The flag state gets the whole report; the NGO gets its copy at the public tier: nothing above it.
    await until(() => xb.inbox.some((m) => m.header.id === first.id));
    expect(xb.inbox.find((m) => m.header.id === first.id)!.body.evidence).toContain('ledger');
    const ngo = fx.party('xa-ngo-harbour');
    await until(() => ngo.inbox.some((m) => m.header.id === copy.id));
    const ngoCopy = ngo.inbox.find((m) => m.header.id === copy.id)!;
    expect(ngoCopy.header.tier).toBe('public');
    expect(ngoCopy.body).toMatchObject({ migrantsCount: 61, childrenCount: 9, womenCount: 14, disembarkationPlace: 'Port Alba, quay 3' });
    expect(ngoCopy.body.humanitarianNeeds).toContain('3 unaccompanied children');
    for (const hidden of ['evidence', 'suspectsDetained', 'summary', 'vessel', 'safeguards', 'requestId', 'position']) expect(ngoCopy.body[hidden]).toBeUndefined();
    const info = fx.fed.catalog.get('BoardingMeasuresReport');
    expect(fieldsAboveTier(info, fromJson(info, ngoCopy.body), 'public')).toEqual([]);
    expect(JSON.stringify(ngoCopy.body)).not.toContain('Tahiri');
  });

  it('refused: a refusal needs reasons; with reasons it ends the case; a new request citing it is then authorised', async () => {
    const xb = fx.party('xb-police');
    const { sent, ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    const bare = await answer({ decision: 'BOARDING_DECISION_REFUSED' });
    const r = await rejectionOf(xb, bare.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref, currentState: 'requested' });
    expect(String(r.reason)).toContain('reasons');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(1);

    await answer({ decision: 'BOARDING_DECISION_REFUSED', reasons: 'a Bellmark patrol vessel is on its way and will board the vessel itself' });
    const c = await fx.caseIn(ref, 'refused');
    expect(c.deadlines).toEqual([]);
    const late = await answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD'], safeguards: SAFE });
    expect(await rejectionOf(xb, late.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'refused' });

    const again = await request({ previousRequestId: sent.id, grounds: 'The Bellmark patrol vessel was diverted to a rescue; the vessel is now 20 nautical miles off the Xandrian coast' });
    await fx.caseIn(again.ref, 'requested');
    await again.answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD', 'BOARDING_MEASURE_SEARCH'], safeguards: SAFE });
    expect((await fx.caseIn(again.ref, 'authorised')).timeline.at(-1)!.note).toBe('authorised');
  });

  it('the safeguards of art. 9 are required, checked fields: the sending SDK refuses an authorisation or report lacking one, nothing is published', async () => {
    const xa = fx.party('xa-coast-guard');
    const xb = fx.party('xb-police');
    const { sent, ref, answer, report } = await request();
    await fx.caseIn(ref, 'requested');
    const measures = ['BOARDING_MEASURE_BOARD'];
    for (const [body, words] of [
      [{ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: measures }, 'art. 9(1)(a)'],
      [{ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: measures, safeguards: { ...SAFE, vesselAndCargoNotEndangered: false } }, 'vessel and its cargo are not endangered (art. 9(1)(b))'],
    ] as const) {
      const err = await answer(body).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      expect(err).toMatchObject({ code: 'ERR_WORKFLOW_GUARD' });
      expect(err!.message).toContain(words);
    }
    // Conditions are the registry's check: the SDK sends, the registry refuses.
    const noConditions = await answer({ decision: 'BOARDING_DECISION_AUTHORISED_WITH_CONDITIONS', measuresAuthorised: measures, safeguards: SAFE });
    expect(String((await rejectionOf(xb, noConditions.id)).reason)).toContain('conditions');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(1);
    // The refused authorisations never reached the registry either: the only rejection is the one above.
    expect(xb.notices('WorkflowRejection', ref)).toHaveLength(1);

    await answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: measures, safeguards: SAFE });
    await fx.caseIn(ref, 'authorised');
    await expect(report({ safeguards: { ...SAFE, flagStateInterestsRespected: false } })).rejects.toMatchObject({
      code: 'ERR_WORKFLOW_GUARD',
      message: expect.stringContaining("flag state's commercial and legal interests (art. 9(1)(c))"),
    });
    const nothingDone = await report({ measuresTaken: [] });
    expect(String((await rejectionOf(xa, nothingDone.id)).reason)).toContain('measures taken');
    // Nothing of the refused report reached the flag state: the one report it holds is the one that was sent.
    await until(() => xb.inbox.some((m) => m.header.id === nothingDone.id));
    expect(xb.inbox.filter((m) => m.type === 'BoardingMeasuresReport' && m.body.requestId === sent.id).map((m) => m.header.id)).toEqual([nothingDone.id]);
    expect(fx.caseOf(ref)!.state).toBe('authorised');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(2);
  });

  it('registry denied: the vessel is treated as without nationality (art. 8(7)); its results go first to the flag state asked', async () => {
    const xa = fx.party('xa-coast-guard');
    const { ref, answer, report } = await request({ vessel: { name: 'No Name 3', flagState: 'XBB', kind: 'rubber dinghy' } });
    await fx.caseIn(ref, 'requested');
    await answer({ decision: 'BOARDING_DECISION_REGISTRY_DENIED', registryDetails: 'no vessel of that name or description on the Bellmark register' });
    const c = await fx.caseIn(ref, 'without-nationality');
    expect(c.timeline.at(-1)!.note).toBe('registry denied: the vessel may be treated as without nationality (art. 8(7))');
    expect(c.deadlines).toEqual([expect.objectContaining({ name: 'report', party: 'xa-coast-guard' })]);
    const elsewhere = await report({}, 'xa-ngo-harbour');
    const r = await rejectionOf(xa, elsewhere.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', currentState: 'without-nationality' });
    expect(String(r.reason)).toContain('reported first to the flag state');
    await report();
    await fx.caseIn(ref, 'reported');
  });

  it('more information: the flag state asks, the requester owes it; the supplement gives the flag state a fresh answer deadline', async () => {
    const xa = fx.party('xa-coast-guard');
    const { sent, ref, answer } = await request({ urgency: 'BOARDING_URGENCY_ROUTINE' });
    await fx.caseIn(ref, 'requested');
    const blank = await answer({ decision: 'BOARDING_DECISION_MORE_INFORMATION_NEEDED' });
    expect(String((await rejectionOf(fx.party('xb-police'), blank.id)).reason)).toContain('information_requested');
    const asked = fx.clock.now();
    await answer({ decision: 'BOARDING_DECISION_MORE_INFORMATION_NEEDED', informationRequested: 'the vessel’s call sign and a photograph of the hull markings' });
    const c = await fx.caseIn(ref, 'information-requested');
    expect(c.deadlines).toEqual([expect.objectContaining({ name: 'information', party: 'xa-coast-guard', dueAt: asked + 12 * HOUR })]);
    fx.clock.advance(HOUR);
    const supplied = fx.clock.now();
    await xa.client.send('BoardingInformationSupplement', { requestId: sent.id, information: 'call sign XBQ-22; markings PB-4471 painted over', position: '35.30,18.35' }, { to: 'xb-police' });
    const back = await fx.caseIn(ref, 'requested');
    expect(back.deadlines).toEqual([expect.objectContaining({ name: 'answer', party: 'xb-police', dueAt: supplied + 24 * HOUR })]);
    expect(back.timeline.map((s) => s.transition)).toEqual(['open', 'ask-information', 'supply-information']);
  });

  it('a deadline in hours: the flag state is reminded at the due time, the supervisor role told two hours later', async () => {
    const xb = fx.party('xb-police');
    const xa = fx.party('xa-coast-guard');
    const centre = fx.party('mac-centre');
    const opened = fx.clock.now();
    const { ref } = await request({ urgency: 'BOARDING_URGENCY_IMMEDIATE' });
    const c0 = await fx.caseIn(ref, 'requested');
    expect(c0.kind).toBe('immediate');
    expect(c0.deadlines.map((d) => [d.name, d.party, d.dueAt, d.graceMs])).toEqual([['answer', 'xb-police', opened + HOUR, 2 * HOUR]]);
    fx.clock.advance(HOUR - 60_000);
    await fx.wf.tick();
    expect(xb.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(2 * 60_000);
    await fx.wf.tick();
    await until(() => xb.notices('WorkflowReminder', ref).length === 1);
    expect(xb.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xb-police', awaited: 'BoardingAuthorisationResponse', deadline: 'answer', dueAt: iso(opened + HOUR) });
    expect(xa.notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);
    fx.clock.advance(2 * HOUR);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xb-police', supervisorRole: 'analyst-centre', awaited: 'BoardingAuthorisationResponse' });
    expect(fx.caseOf(ref)!.timeline.map((s) => s.transition)).toEqual(['open', 'reminder:answer', 'escalation:answer']);
  });

  it('the report of measures is a deadline too: the requesting state is reminded when it has not reported within 24 hours', async () => {
    const xa = fx.party('xa-coast-guard');
    const { ref, answer } = await request();
    await fx.caseIn(ref, 'requested');
    await answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD'], safeguards: SAFE });
    await fx.caseIn(ref, 'authorised');
    fx.clock.advance(24 * HOUR + 60_000);
    await fx.wf.tick();
    await until(() => xa.notices('WorkflowReminder', ref).length === 1);
    expect(xa.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-coast-guard', state: 'authorised', deadline: 'report' });
  });

  it('illegal transition, wrong party and non-party are refused with typed rejections; the case is unchanged', async () => {
    const xa = fx.party('xa-coast-guard');
    const xb = fx.party('xb-police');
    const xc = fx.party('xc-maritime');
    const { ref, answer, report } = await request();
    const before = await fx.caseIn(ref, 'requested');

    // Results reported before any authorisation.
    const early = await report();
    const earlyR = await rejectionOf(xa, early.id);
    expect(earlyR).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', currentState: 'requested' });
    expect(String(earlyR.reason)).toContain('not allowed in state requested');
    // The requesting state authorising its own request.
    const own = await answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD'], safeguards: SAFE }, 'xa-coast-guard', 'xb-police');
    const ownR = await rejectionOf(xa, own.id);
    expect(ownR).toMatchObject({ code: 'ERR_WORKFLOW_WRONG_PARTY', currentState: 'requested' });
    expect(String(ownR.reason)).toContain('only the requested');
    // A third state's designated authority answering for the flag state.
    const outsider = await answer({ decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD'], safeguards: SAFE }, 'xc-maritime', 'xa-coast-guard');
    const outR = await rejectionOf(xc, outsider.id);
    expect(outR).toMatchObject({ code: 'ERR_WORKFLOW_NOT_A_PARTY', caseRef: ref, refusedSender: 'xc-maritime' });
    await rejectionOf(xa, outsider.id);
    // An answer without a decision.
    const blank = await answer({ reasons: 'see signal' });
    expect(await rejectionOf(xb, blank.id)).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', allowedNow: ['BoardingAuthorisationResponse'] });

    const after = fx.caseOf(ref)!;
    expect(after.state).toBe('requested');
    expect(after.timeline).toEqual(before.timeline);
    expect((await xc.client.request('CaseQuery', { caseRef: ref })).body.cases ?? []).toEqual([]);
  });

  it('one designated authority per state (art. 8(6)): the policy stops other agencies of either state; the registry checks the flag', async () => {
    const xa = fx.party('xa-coast-guard');
    const border = fx.party('xa-border-police');
    // Another agency of the requesting state may not send a request; another agency of the flag state may not receive one.
    await expect(border.client.send('BoardingAuthorisationRequest', boardingRequest(), { to: 'xb-police' })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
    await expect(xa.client.send('BoardingAuthorisationRequest', boardingRequest(), { to: 'xb-prosecutor' })).rejects.toMatchObject({ code: 'ERR_POLICY_RECEIVE_DENIED' });
    await expect(fx.party('xb-prosecutor').client.send('BoardingAuthorisationResponse', { requestId: 'x', decision: 'BOARDING_DECISION_REFUSED' }, { to: 'xa-coast-guard' })).rejects.toMatchObject({
      code: 'ERR_POLICY_SEND_DENIED',
    });
    // A raw client with the border police's own credentials cannot publish one either: the broker refuses the subject.
    const raw = await RawAgency.connect(fx.fed.server.url, fx.fed.agencyDirs['xa-border-police']!, 'xa-border-police');
    try {
      const subject = messageSubject({ tier: 'special', family: 'cooperation', type: 'BoardingAuthorisationRequest', sender: 'xa-border-police', recipient: 'xb-police' });
      raw.nc.publish(subject, new Uint8Array([1]));
      expect(await raw.refused(subject)).toBe(true);
    } finally {
      await raw.close();
    }

    // To a designated authority of another state than the flag's, or about a vessel of one's own flag: refused, no case.
    const wrongFlag = await xa.client.send('BoardingAuthorisationRequest', boardingRequest(), { to: 'xc-maritime' });
    const wf = await rejectionOf(xa, wrongFlag.id);
    expect(wf).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: `boarding.${wrongFlag.id}` });
    expect(String(wf.reason)).toContain("must go to the flag state XBB's designated authority, not to xc-maritime (XCC)");
    const ownFlag = await xa.client.send('BoardingAuthorisationRequest', boardingRequest({ vessel: { name: 'Aurora', flagState: 'XAA' } }), { to: 'xb-police' });
    expect(String((await rejectionOf(xa, ownFlag.id)).reason)).toContain("flies XAA's own flag");
    const noGrounds = await xa.client.send('BoardingAuthorisationRequest', boardingRequest({ grounds: '' }), { to: 'xb-police' });
    expect(String((await rejectionOf(xa, noGrounds.id)).reason)).toContain('reasonable grounds');
    for (const id of [wrongFlag.id, ownFlag.id, noGrounds.id]) expect(fx.caseOf(`boarding.${id}`)).toBeUndefined();
  });
});

describe('boarding: the registry still refuses what the SDK would not send (a raw client signing its own envelope)', () => {
  const directory = new Map<string, { country: string; roles: string[] }>([
    ['xa-coast-guard', { country: 'XAA', roles: ['maritime-authority'] }],
    ['xb-police', { country: 'XBB', roles: ['maritime-authority'] }],
  ]);
  const ctx: TransitionContext = { now: Date.parse('2026-11-30T02:00:00Z'), agencies: new Set(directory.keys()), directory };
  const msg = (id: string, type: string, sender: string, recipient: string, body: Record<string, unknown>): WorkflowMessage => ({
    id: `0190a5c8-0000-7000-8000-0000000000${id}`,
    type,
    sender,
    recipient,
    externalRef: '',
    causationId: '',
    kid: 'k',
    createdAt: 0,
    body,
  });

  it('an authorisation or a report lacking an art. 9 safeguard is refused with the same words as at send', () => {
    const req = msg('c1', 'BoardingAuthorisationRequest', 'xa-coast-guard', 'xb-police', boardingRequest());
    const opened = openCase(boarding, 'boarding.c1', req, ctx);
    if (!opened.ok) throw new Error(opened.refusal.reason);
    const authorise = (safeguards: Record<string, unknown>) =>
      applyMessage(boarding, opened.record, msg('c2', 'BoardingAuthorisationResponse', 'xb-police', 'xa-coast-guard', { requestId: req.id, decision: 'BOARDING_DECISION_AUTHORISED', measuresAuthorised: ['BOARDING_MEASURE_BOARD'], safeguards }), ctx);
    const unsafe = authorise({ ...SAFE, safetyAndHumaneTreatment: false });
    const atSend = lackingSafeguards('BoardingAuthorisationResponse', { decision: 'BOARDING_DECISION_AUTHORISED', safeguards: { ...SAFE, safetyAndHumaneTreatment: false } });
    expect(!unsafe.ok && unsafe.refusal).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', reason: atSend });
    expect(!unsafe.ok && unsafe.refusal.reason).toContain('art. 9(1)(a)');
    const authorised = authorise(SAFE);
    if (!authorised.ok) throw new Error(authorised.refusal.reason);
    const reported = applyMessage(boarding, authorised.record, msg('c3', 'BoardingMeasuresReport', 'xa-coast-guard', 'xb-police', measuresReport(req.id, { safeguards: { ...SAFE, flagStateInterestsRespected: false } })), ctx);
    expect(!reported.ok && reported.refusal.reason).toContain('art. 9(1)(c)');
  });
});

describe('boarding: the registry refuses a state whose policy names several designated authorities (art. 8(6))', () => {
  const agencies = (extra: [string, string, string[]][]): TransitionContext => {
    const directory = new Map<string, { country: string; roles: string[] }>([
      ['xa-coast-guard', { country: 'XAA', roles: ['coast-guard', 'maritime-authority'] }],
      ['xb-police', { country: 'XBB', roles: ['border-police', 'coast-guard', 'maritime-authority'] }],
      ...extra.map(([id, country, roles]) => [id, { country, roles }] as [string, { country: string; roles: string[] }]),
    ]);
    return { now: Date.parse('2026-11-30T02:00:00Z'), agencies: new Set(directory.keys()), directory };
  };
  const m: WorkflowMessage = {
    id: '0190a5c8-0000-7000-8000-0000000000b1',
    type: 'BoardingAuthorisationRequest',
    sender: 'xa-coast-guard',
    recipient: 'xb-police',
    externalRef: '',
    causationId: '',
    kid: 'k',
    createdAt: 0,
    body: boardingRequest(),
  };

  it('one per state opens the case; a second designated authority in either state refuses it, naming both', () => {
    expect(openCase(boarding, 'boarding.1', m, agencies([])).ok).toBe(true);
    for (const [extra, words] of [
      [['xa-navy', 'XAA', ['maritime-authority']], 'XAA names 2 designated authorities (xa-coast-guard, xa-navy)'],
      [['xb-navy', 'XBB', ['maritime-authority']], 'XBB names 2 designated authorities (xb-police, xb-navy)'],
    ] as const) {
      const r = openCase(boarding, 'boarding.1', m, agencies([[extra[0], extra[1], [...extra[2]]]]));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.refusal.code).toBe('ERR_WORKFLOW_GUARD');
        expect(r.refusal.reason).toContain(words);
      }
    }
    // A state with no designated authority cannot be asked.
    const none = openCase(boarding, 'boarding.1', m, { ...agencies([]), directory: new Map([['xa-coast-guard', { country: 'XAA', roles: ['maritime-authority'] }], ['xb-police', { country: 'XBB', roles: ['coast-guard'] }]]) });
    expect(!none.ok && none.refusal.reason).toContain('XBB has no designated authority');
  });
});
