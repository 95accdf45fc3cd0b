import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendReceipt } from '../services/sdk/client/client.ts';
import { keyToken } from '../services/workflows/definitions/read.ts';
import { rejectionOf, startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const iso = (ms: number) => new Date(ms).toISOString();

const PARTIES = [
  { agency: 'xa-border-police', country: 'XAA', role: 'lead', contribution: 'investigators, surveillance' },
  { agency: 'xb-police', country: 'XBB', role: 'participant', contribution: 'maritime surveillance, interpreters' },
  { agency: 'xa-prosecutor', country: 'XAA', role: 'participant', contribution: 'judicial coordination' },
];

function proposal(reference: string, overrides: Record<string, unknown> = {}) {
  return {
    proposalReference: reference,
    title: 'Operation Trident',
    objective: 'Dismantle the network organising crossings from Port Zeta to Xandria and Bellmark',
    legalBasis: 'UNTOC art. 19',
    parties: PARTIES,
    offences: ['PROTOCOL_OFFENCE_SMUGGLING', 'PROTOCOL_OFFENCE_ORGANIZING'],
    targets: [{ kind: 'ENTITY_KIND_ORGANISATION', value: 'Seaways Ltd' }],
    operationalArea: ['XAA', 'XBB'],
    ...overrides,
  };
}

describe('joint investigation (¶14; UNTOC art. 19) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-joint', ['xa-border-police', 'xb-police', 'xa-prosecutor', 'xa-coast-guard', 'mac-centre']);
  });
  afterAll(async () => fx?.stop());

  /** xa-border-police sends the proposal to xb-police, then the same proposal to xa-prosecutor. */
  async function propose(reference: string, overrides: Record<string, unknown> = {}) {
    const lead = fx.party('xa-border-police');
    const ref = `joint-investigation.xa-border-police.${keyToken(reference)}`;
    const toPolice = await lead.client.send('JointInvestigationProposal', proposal(reference, overrides), { to: 'xb-police', caseRef: reference });
    await fx.caseIn(ref, 'proposed');
    const toProsecutor = await lead.client.send('JointInvestigationProposal', proposal(reference, overrides), { to: 'xa-prosecutor', caseRef: reference });
    await until(() => fx.caseOf(ref)?.timeline.length === 2 && fx.caseOf(ref)!.outbox.length === 0, 8_000, 'the second copy applied');
    /** Each party answers the copy it received. */
    const answer = (from: 'xb-police' | 'xa-prosecutor' | 'xa-coast-guard' | 'xa-border-police', body: Record<string, unknown>) =>
      fx.party(from).client.send('JointInvestigationResponse', { proposalId: from === 'xa-prosecutor' ? toProsecutor.id : toPolice.id, ...body }, {
        to: from === 'xa-border-police' ? 'xb-police' : 'xa-border-police',
      });
    return { ref, toPolice, toProsecutor, answer };
  }

  const items = (ref: string) => Object.fromEntries(fx.caseOf(ref)!.items.map((i) => [i.agency, i.state]));

  it('happy path: one proposal sent to each party (same reference, one case); active only once every party has accepted', async () => {
    const lead = fx.party('xa-border-police');
    const police = fx.party('xb-police');
    const prosecutor = fx.party('xa-prosecutor');
    const { ref, toPolice, toProsecutor, answer } = await propose('OP-TRIDENT-1');
    const c0 = fx.caseOf(ref)!;
    expect(c0).toMatchObject({ workflow: 'joint-investigation', state: 'proposed', requester: 'xa-border-police', requested: 'xb-police', participants: ['xa-prosecutor'], externalRef: 'OP-TRIDENT-1' });
    expect(c0.timeline.map((s) => [s.transition, s.messageId, s.itemRef ?? ''])).toEqual([
      ['open', toPolice.id, ''],
      ['invite', toProsecutor.id, 'xa-prosecutor'],
    ]);
    expect(items(ref)).toEqual({ 'xb-police': 'pending', 'xa-prosecutor': 'pending' });
    // The registry keeps no targets or offences.
    expect(JSON.stringify(c0)).not.toContain('Seaways');

    await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED', contribution: 'two patrol vessels' });
    await until(() => fx.caseOf(ref)?.timeline.length === 3 && fx.caseOf(ref)!.outbox.length === 0);
    expect(fx.caseOf(ref)!.state).toBe('proposed');
    expect(fx.caseOf(ref)!.timeline.at(-1)!.note).toBe('xb-police accepted; waiting for xa-prosecutor');
    expect(items(ref)).toEqual({ 'xb-police': 'accepted', 'xa-prosecutor': 'pending' });

    // The prosecutor answers the copy it received: found through the proposal's alias.
    await answer('xa-prosecutor', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED_WITH_CONDITIONS', conditions: 'evidence gathered under Xandrian procedure' });
    const c = await fx.caseIn(ref, 'active');
    expect(c.timeline.map((s) => [s.transition, s.from, s.to, s.actor])).toEqual([
      ['open', '', 'proposed', 'xa-border-police'],
      ['invite', 'proposed', 'proposed', 'xa-border-police'],
      ['accept', 'proposed', 'proposed', 'xb-police'],
      ['accept', 'proposed', 'active', 'xa-prosecutor'],
    ]);
    expect(c.timeline.at(-1)!.note).toBe('every party accepted: the joint investigation is active');
    expect(c.timeline.at(-1)!.signedBy).toBe(prosecutor.client.identity.key.kid);
    expect(c.deadlines).toEqual([]);
    for (const p of [lead, police, prosecutor]) {
      await until(() => p.notices('WorkflowStateChange', ref).some((n) => n.toState === 'active'), 8_000, `${p.client.id} told`);
    }
    expect(lead.notices('WorkflowStateChange', ref).map((n) => n.transition)).toEqual(['open', 'invite', 'accept', 'accept']);
    // The invitation is told to the proposer and the invited party only.
    expect(police.notices('WorkflowStateChange', ref).map((n) => n.transition)).toEqual(['open', 'accept', 'accept']);
    const shown = await prosecutor.client.request('CaseQuery', { caseRef: ref });
    expect((shown.body.cases as Record<string, unknown>[]).map((x) => x.state)).toEqual(['active']);

    // Illegal transition: once active, a party can no longer answer the proposal.
    const late = await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_DECLINED', reason: 'changed priorities' });
    const r = await rejectionOf(police, late.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', caseRef: ref, currentState: 'active' });
    expect(String(r.reason)).toContain('not allowed in state active');
    expect(fx.caseOf(ref)!.timeline).toHaveLength(4);
    expect(items(ref)).toEqual({ 'xb-police': 'accepted', 'xa-prosecutor': 'accepted' });
  });

  it('a decline by any party ends the proposal, even after another accepted; nothing changes it afterwards', async () => {
    const police = fx.party('xb-police');
    const { ref, answer } = await propose('OP-TRIDENT-2');
    await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    await until(() => fx.caseOf(ref)?.timeline.length === 3);
    await answer('xa-prosecutor', { answer: 'JOINT_INVESTIGATION_ANSWER_DECLINED', reason: 'a national investigation is already open' });
    const c = await fx.caseIn(ref, 'declined');
    expect(c.timeline.at(-1)).toMatchObject({ transition: 'decline', actor: 'xa-prosecutor', note: 'xa-prosecutor declined', itemRef: 'xa-prosecutor' });
    expect(items(ref)).toEqual({ 'xb-police': 'accepted', 'xa-prosecutor': 'declined' });
    expect(c.deadlines).toEqual([]);
    await until(() => police.notices('WorkflowStateChange', ref).some((n) => n.toState === 'declined'));

    const after = await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_COUNTER_PROPOSAL', conditions: 'without the prosecutor then' });
    expect(await rejectionOf(police, after.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'declined' });
    // Re-sending the proposal does not reopen it either.
    const resend = await fx.party('xa-border-police').client.send('JointInvestigationProposal', proposal('OP-TRIDENT-2'), { to: 'xa-prosecutor' });
    expect(await rejectionOf(fx.party('xa-border-police'), resend.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED' });
    expect(fx.caseOf(ref)!.timeline).toHaveLength(4);
  });

  it('a counter-proposal keeps the proposal open until the proposer re-sends it and the party accepts', async () => {
    const lead = fx.party('xa-border-police');
    const { ref, answer } = await propose('OP-TRIDENT-3');
    await answer('xa-prosecutor', { answer: 'JOINT_INVESTIGATION_ANSWER_COUNTER_PROPOSAL', conditions: 'twelve months instead of six' });
    await until(() => fx.caseOf(ref)?.timeline.length === 3 && fx.caseOf(ref)!.outbox.length === 0);
    expect(fx.caseOf(ref)!.state).toBe('proposed');
    expect(items(ref)).toEqual({ 'xb-police': 'pending', 'xa-prosecutor': 'counter-proposal' });
    // Everyone else accepting does not make it active while the counter-proposal is open.
    await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    await until(() => fx.caseOf(ref)?.timeline.length === 4 && fx.caseOf(ref)!.outbox.length === 0);
    expect(fx.caseOf(ref)!.state).toBe('proposed');

    // The proposer re-sends the amended proposal to the prosecutor, who accepts that copy.
    const amended = await lead.client.send('JointInvestigationProposal', proposal('OP-TRIDENT-3', { proposedEnd: iso(fx.clock.now() + 365 * DAY) }), { to: 'xa-prosecutor' });
    await until(() => fx.caseOf(ref)?.timeline.length === 5 && fx.caseOf(ref)!.outbox.length === 0);
    expect(items(ref)).toEqual({ 'xb-police': 'accepted', 'xa-prosecutor': 'pending' });
    await fx.party('xa-prosecutor').client.send('JointInvestigationResponse', { proposalId: amended.id, answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' }, { to: 'xa-border-police' });
    const c = await fx.caseIn(ref, 'active');
    expect(c.timeline.map((s) => s.transition)).toEqual(['open', 'invite', 'counter-propose', 'accept', 'invite', 'accept']);
  });

  it('a deadline that passes reminds only the parties still pending, then escalates them to the supervisor role', async () => {
    const police = fx.party('xb-police');
    const prosecutor = fx.party('xa-prosecutor');
    const lead = fx.party('xa-border-police');
    const centre = fx.party('mac-centre');
    const due = fx.clock.now() + 2 * DAY;
    const { ref, answer } = await propose('OP-TRIDENT-4', { respondBy: iso(due) });
    expect(fx.caseOf(ref)!.deadlines).toEqual([expect.objectContaining({ name: 'answers', party: '', pending: true, dueAt: due, graceMs: 3 * DAY })]);
    await answer('xb-police', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    await until(() => fx.caseOf(ref)?.timeline.length === 3 && fx.caseOf(ref)!.outbox.length === 0);

    fx.clock.advance(DAY);
    await fx.wf.tick();
    expect(prosecutor.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(DAY + HOUR);
    await fx.wf.tick();
    await until(() => prosecutor.notices('WorkflowReminder', ref).length === 1);
    expect(prosecutor.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xa-prosecutor', awaited: 'JointInvestigationResponse', state: 'proposed', dueAt: iso(due) });
    // The party that accepted, and the proposer, are not reminded.
    expect(police.notices('WorkflowReminder', ref)).toEqual([]);
    expect(lead.notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);

    fx.clock.advance(3 * DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xa-prosecutor', supervisorRole: 'analyst-centre', parties: ['xa-border-police', 'xb-police', 'xa-prosecutor'] });
    await fx.wf.tick();
    expect(centre.notices('WorkflowEscalation', ref)).toHaveLength(1);
    expect(prosecutor.notices('WorkflowReminder', ref)).toHaveLength(1);
    expect(fx.caseOf(ref)!.timeline.slice(-2).map((s) => [s.transition, s.note])).toEqual([
      ['reminder:answers', 'reminder sent to xa-prosecutor: JointInvestigationResponse was due'],
      ['escalation:answers', 'escalated to analyst-centre (mac-centre): xa-prosecutor has not sent JointInvestigationResponse'],
    ]);
    // The late answer still counts.
    await answer('xa-prosecutor', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    await fx.caseIn(ref, 'active');
  });

  it('a non-party, the proposer answering itself, and malformed proposals are refused; the case is unchanged', async () => {
    const lead = fx.party('xa-border-police');
    const coast = fx.party('xa-coast-guard');
    const { ref, answer } = await propose('OP-TRIDENT-5');
    const before = structuredClone(fx.caseOf(ref)!);

    // The coast guard was not named as a party.
    const outsider = await answer('xa-coast-guard', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    const r = await rejectionOf(coast, outsider.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_NOT_A_PARTY', caseRef: ref, currentState: 'proposed', refusedSender: 'xa-coast-guard' });
    expect(String(r.reason)).toContain('xa-coast-guard is not a party');
    await rejectionOf(lead, outsider.id);
    // The proposer cannot accept on behalf of the parties.
    const own = await answer('xa-border-police', { answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' });
    expect(await rejectionOf(lead, own.id)).toMatchObject({ code: 'ERR_WORKFLOW_WRONG_PARTY' });
    // Nor send the proposal to an agency it does not name.
    const stray = await lead.client.send('JointInvestigationProposal', proposal('OP-TRIDENT-5'), { to: 'xa-coast-guard' });
    const strayR = await rejectionOf(lead, stray.id);
    expect(strayR).toMatchObject({ code: 'ERR_WORKFLOW_GUARD' });
    expect(String(strayR.reason)).toContain('xa-coast-guard is not a party');
    expect(fx.caseOf(ref)!.timeline).toEqual(before.timeline);
    expect(fx.caseOf(ref)!.items).toEqual(before.items);

    // Opening guards: a reference, parties besides the proposer, the recipient among them.
    const noParties = await lead.client.send('JointInvestigationProposal', proposal('OP-SOLO', { parties: [PARTIES[0]] }), { to: 'xb-police' });
    const noRef = await lead.client.send('JointInvestigationProposal', proposal(''), { to: 'xb-police' });
    const unnamed = await lead.client.send('JointInvestigationProposal', proposal('OP-ASIDE', { parties: [PARTIES[0], PARTIES[2]] }), { to: 'xb-police' });
    for (const [msg, words] of [
      [noParties, 'at least one party'],
      [noRef, 'proposal_reference'],
      [unnamed, 'does not name as a party'],
    ] as const) {
      const x = await rejectionOf(lead, msg.id);
      expect(x.code).toBe('ERR_WORKFLOW_GUARD');
      expect(String(x.reason)).toContain(words);
    }
    expect(fx.caseOf(`joint-investigation.xa-border-police.${keyToken('OP-SOLO')}`)).toBeUndefined();
    expect(fx.caseOf(`joint-investigation.xa-border-police.${keyToken('OP-ASIDE')}`)).toBeUndefined();
  });
});

const COURSE = 'SOM-101';
const ENROLLING = ['xa-border-police', 'xa-coast-guard', 'xb-police', 'xa-prosecutor', 'xa-ngo-harbour', 'xb-return'] as const;
const ROLE_OF: Record<string, string> = {
  'xa-border-police': 'TRAINEE_ROLE_BORDER_OFFICER',
  'xa-coast-guard': 'TRAINEE_ROLE_BORDER_OFFICER',
  'xb-police': 'TRAINEE_ROLE_INVESTIGATOR',
  'xa-prosecutor': 'TRAINEE_ROLE_PROSECUTOR',
  'xa-ngo-harbour': 'TRAINEE_ROLE_PROTECTION_STAFF',
  'xb-return': 'TRAINEE_ROLE_PROTECTION_STAFF',
};

function offer(code: string, seats: number, overrides: Record<string, unknown> = {}) {
  return {
    courseCode: code,
    title: 'Evidence gathering from the point of interception',
    description: 'Securing evidence at sea and at the border for smuggling prosecutions (¶8)',
    eligibleRoles: ['TRAINEE_ROLE_BORDER_OFFICER', 'TRAINEE_ROLE_INVESTIGATOR', 'TRAINEE_ROLE_PROSECUTOR', 'TRAINEE_ROLE_PROTECTION_STAFF'],
    seats,
    delivery: 'DELIVERY_MODE_IN_PERSON',
    venue: 'Corvenia Police Academy',
    languages: ['en', 'fr'],
    ...overrides,
  };
}

describe('training course (¶8, ¶14, ¶20) on a real exchange', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-training', ['xc-training', 'xd-training', ...ENROLLING, 'mac-centre']);
  });
  afterAll(async () => fx?.stop());

  const courseRef = (code: string, institute = 'xc-training') => `training.${institute}.${keyToken(code)}`;

  async function openCourse(code: string, seats: number, overrides: Record<string, unknown> = {}) {
    await fx.party('xc-training').client.send('TrainingOffer', offer(code, seats, overrides), { to: 'all' });
    return fx.caseIn(courseRef(code), 'open');
  }

  function enrol(agency: string, code: string, n: number, overrides: Record<string, unknown> = {}) {
    return fx.party(agency).client.send(
      'EnrolmentRequest',
      { courseCode: code, traineeName: `Officer ${agency} ${n}`, traineeEmail: `officer${n}@${agency}.example`, traineeRole: ROLE_OF[agency], unit: 'smuggling unit', ...overrides },
      { to: 'xc-training' },
    );
  }

  /** The stream sequence of the copy the case registry consumes: the exchange's order of the requests. */
  function registrySeq(r: SendReceipt): number {
    const copy = r.copies.find((c) => c.recipients.includes('mac-cases'));
    if (!copy) throw new Error(`no copy of ${r.id} for the case registry: ${JSON.stringify(r.copies)}`);
    return copy.seq;
  }

  const itemsOf = (ref: string) => fx.caseOf(ref)!.items;
  const settled = (ref: string, steps: number) => until(() => fx.caseOf(ref)?.timeline.length === steps && fx.caseOf(ref)!.outbox.length === 0, 10_000, `${steps} steps on ${ref}`);

  it('50 concurrent enrolment requests for 10 seats: exactly 10 confirmed, 40 wait-listed, in the order the exchange received them', async () => {
    const institute = fx.party('xc-training');
    const ref = courseRef(COURSE);
    const c0 = await openCourse(COURSE, 10, { enrolBy: iso(fx.clock.now() + 20 * DAY) });
    expect(c0).toMatchObject({ workflow: 'training', kind: COURSE, requester: 'xc-training', requested: 'xc-training', participants: [], items: [] });

    const receipts = await Promise.all(Array.from({ length: 50 }, (_, n) => enrol(ENROLLING[n % ENROLLING.length]!, COURSE, n)));
    const bySeq = [...receipts].sort((a, b) => registrySeq(a) - registrySeq(b)).map((r) => r.id);
    expect(new Set(receipts.map(registrySeq)).size).toBe(50);
    await settled(ref, 51);

    const c = fx.caseOf(ref)!;
    expect(c.items).toHaveLength(50);
    // The items are in request order, and the first ten requests hold the seats.
    expect(c.items.map((i) => i.ref)).toEqual(bySeq);
    expect(c.items.filter((i) => i.state === 'confirmed').map((i) => i.ref)).toEqual(bySeq.slice(0, 10));
    const waitlist = c.items.filter((i) => i.state === 'waitlisted').sort((a, b) => a.order - b.order);
    expect(waitlist.map((i) => i.ref)).toEqual(bySeq.slice(10));
    expect(c.participants.sort()).toEqual([...ENROLLING].sort());

    // The institute sees every enrolment through CaseQuery, with waiting-list positions in request order.
    const shown = await institute.client.request('CaseQuery', { caseRef: ref });
    const [view] = shown.body.cases as Record<string, unknown>[];
    const positions = Object.fromEntries((view!.items as { ref: string; state: string; position?: number }[]).map((i) => [i.ref, [i.state, i.position ?? 0]]));
    bySeq.forEach((id, k) => expect(positions[id]).toEqual(k < 10 ? ['confirmed', 0] : ['waitlisted', k - 9]));

    // Each enrolling agency is told the outcome of each of its requests, with its place.
    for (const agency of ENROLLING) {
      const mine = receipts.filter((_, n) => ENROLLING[n % ENROLLING.length] === agency);
      await until(() => fx.party(agency).notices('WorkflowStateChange', ref).length === mine.length, 8_000, `${agency} told`);
      for (const r of mine) {
        const k = bySeq.indexOf(r.id);
        const n = fx.party(agency).notices('WorkflowStateChange', ref).find((x) => x.itemRef === r.id)!;
        expect(n).toMatchObject(k < 10 ? { itemState: 'confirmed' } : { itemState: 'waitlisted', note: `waiting list position ${k - 9}` });
      }
    }

    // An enrolling agency sees only its own enrolments, not who else enrolled.
    const ngo = fx.party('xa-ngo-harbour');
    const ngoIds = receipts.filter((_, n) => ENROLLING[n % ENROLLING.length] === 'xa-ngo-harbour').map((r) => r.id);
    const own = ((await ngo.client.request('CaseQuery', { caseRef: ref })).body.cases as Record<string, unknown>[])[0]!;
    expect(own.participants).toEqual(['xa-ngo-harbour']);
    const ownItems = own.items as { ref: string; agency: string; position?: number }[];
    expect(ownItems.map((i) => i.ref).sort()).toEqual([...ngoIds].sort());
    expect(new Set(ownItems.map((i) => i.agency))).toEqual(new Set(['xa-ngo-harbour']));
    const ownSteps = (own.timeline as { itemRef?: string }[]).filter((s) => s.itemRef);
    expect(ownSteps.map((s) => s.itemRef).sort()).toEqual([...ngoIds].sort());

    // A declined confirmed seat goes to the first on the waiting list.
    const first = bySeq[0]!;
    const firstAgency = c.items.find((i) => i.ref === first)!.agency;
    const promoted = bySeq[10]!;
    const promotedAgency = c.items.find((i) => i.ref === promoted)!.agency;
    await institute.client.send('EnrolmentDecision', { requestId: first, courseCode: COURSE, outcome: 'ENROLMENT_OUTCOME_DECLINED', reason: 'trainee not released by the unit' }, { to: firstAgency });
    await settled(ref, 53);
    const after = fx.caseOf(ref)!;
    const state = Object.fromEntries(after.items.map((i) => [i.ref, i.state]));
    expect(state[first]).toBe('declined');
    expect(state[promoted]).toBe('confirmed');
    expect(after.items.filter((i) => i.state === 'confirmed').map((i) => i.ref)).toEqual(bySeq.slice(1, 11));
    expect(after.timeline.slice(-2).map((s) => [s.transition, s.itemRef])).toEqual([
      ['decline-enrolment', first],
      ['decline-enrolment:effect', promoted],
    ]);
    await until(() => fx.party(promotedAgency).notices('WorkflowStateChange', ref).some((n) => n.itemRef === promoted && n.itemState === 'confirmed'));
    await until(() => fx.party(firstAgency).notices('WorkflowStateChange', ref).some((n) => n.itemRef === first && n.itemState === 'declined'));
    const requeued = ((await institute.client.request('CaseQuery', { caseRef: ref })).body.cases as Record<string, unknown>[])[0]!;
    const pos = Object.fromEntries((requeued.items as { ref: string; position?: number }[]).map((i) => [i.ref, i.position ?? 0]));
    expect(pos[bySeq[11]!]).toBe(1);
    expect(pos[bySeq[49]!]).toBe(39);
  });

  it("an enrolling agency's CaseQuery gives its trainees' places on the whole waiting list, as its notices did", async () => {
    const ref = courseRef(COURSE);
    const c = fx.caseOf(ref)!;
    const queue = c.items.filter((i) => i.state === 'waitlisted').sort((a, b) => a.order - b.order);
    expect(queue).toHaveLength(39);
    for (const agency of ENROLLING) {
      const view = ((await fx.party(agency).client.request('CaseQuery', { caseRef: ref })).body.cases as Record<string, unknown>[])[0]!;
      const items = view.items as { ref: string; state: string; position?: number }[];
      expect(items.length).toBeGreaterThan(0);
      // Positions count the whole waiting list, though the agency sees only its own enrolments.
      for (const i of items) expect([i.ref, i.position ?? 0]).toEqual([i.ref, i.state === 'waitlisted' ? queue.findIndex((q) => q.ref === i.ref) + 1 : 0]);
    }
  });

  it('happy path: enrolments confirmed, enrol_by closes the course (later enrolments refused), completions complete it', async () => {
    const institute = fx.party('xc-training');
    const border = fx.party('xa-border-police');
    const ref = courseRef('SOM-201');
    const start = fx.clock.now();
    await openCourse('SOM-201', 2, { enrolBy: iso(start + DAY), startsAt: iso(start + 2 * DAY), endsAt: iso(start + 4 * DAY) });
    const a = await enrol('xa-border-police', 'SOM-201', 1);
    await settled(ref, 2);
    const b = await enrol('xb-police', 'SOM-201', 2);
    await settled(ref, 3);
    // The institute confirms explicitly (joining instructions): the seat stays confirmed.
    await institute.client.send('EnrolmentDecision', { requestId: a.id, courseCode: 'SOM-201', outcome: 'ENROLMENT_OUTCOME_ACCEPTED', instructions: 'report at gate 2' }, { to: 'xa-border-police' });
    await settled(ref, 4);
    expect(itemsOf(ref).map((i) => [i.ref, i.agency, i.state])).toEqual([
      [a.id, 'xa-border-police', 'confirmed'],
      [b.id, 'xb-police', 'confirmed'],
    ]);

    fx.clock.advance(DAY + HOUR);
    await fx.wf.tick();
    const closed = await fx.caseIn(ref, 'closed');
    expect(closed.timeline.at(-1)).toMatchObject({ transition: 'deadline:enrolment', from: 'open', to: 'closed', actor: 'mac-cases' });
    expect(closed.deadlines).toEqual([expect.objectContaining({ name: 'completion-report', party: 'xc-training', dueAt: start + 4 * DAY + 7 * DAY })]);
    for (const p of [institute, border, fx.party('xb-police')]) await until(() => p.notices('WorkflowStateChange', ref).some((n) => n.toState === 'closed'));

    // Enrolment after closure: an illegal transition, the course unchanged.
    const late = await enrol('xa-coast-guard', 'SOM-201', 3);
    const r = await rejectionOf(fx.party('xa-coast-guard'), late.id);
    expect(r).toMatchObject({ code: 'ERR_WORKFLOW_ILLEGAL_TRANSITION', caseRef: ref, currentState: 'closed' });
    await rejectionOf(institute, late.id);
    expect(itemsOf(ref)).toHaveLength(2);

    // TrainingCompleted names the enrolment by its causation id.
    await institute.client.send('TrainingCompleted', { courseCode: 'SOM-201', traineeName: 'Officer 1', completedAt: iso(start + 4 * DAY), certificateNumber: 'CPA-2026-0001', result: 'passed', hours: 32 }, { to: 'xa-border-police', causationId: a.id });
    await settled(ref, 6);
    expect(fx.caseOf(ref)!.state).toBe('closed');
    await institute.client.send('TrainingCompleted', { courseCode: 'SOM-201', traineeName: 'Officer 2', certificateNumber: 'CPA-2026-0002', result: 'distinction', hours: 32 }, { to: 'xb-police', causationId: b.id });
    const done = await fx.caseIn(ref, 'completed');
    expect(done.items.map((i) => i.state)).toEqual(['completed', 'completed']);
    expect(done.timeline.slice(-2).map((s) => [s.transition, s.from, s.to, s.itemRef])).toEqual([
      ['complete', 'closed', 'closed', a.id],
      ['complete', 'closed', 'completed', b.id],
    ]);
    expect(done.deadlines).toEqual([]);
    await until(() => border.notices('WorkflowStateChange', ref).some((n) => n.itemRef === a.id && n.itemState === 'completed'));

    // After completion nothing changes the course.
    const again = await institute.client.send('TrainingCompleted', { courseCode: 'SOM-201', traineeName: 'Officer 1' }, { to: 'xa-border-police', causationId: a.id });
    expect(await rejectionOf(institute, again.id)).toMatchObject({ code: 'ERR_WORKFLOW_CASE_CLOSED', currentState: 'completed' });
  });

  it('the completion report is a deadline: a reminder to the institute, then an escalation to the supervisor role', async () => {
    const institute = fx.party('xc-training');
    const centre = fx.party('mac-centre');
    const ref = courseRef('SOM-301');
    const start = fx.clock.now();
    const endsAt = start + 3 * DAY;
    await openCourse('SOM-301', 1, { enrolBy: iso(start + HOUR), endsAt: iso(endsAt) });
    const a = await enrol('xa-prosecutor', 'SOM-301', 1);
    await settled(ref, 2);
    fx.clock.advance(2 * HOUR);
    await fx.wf.tick();
    await fx.caseIn(ref, 'closed');

    fx.clock.advance(endsAt + 7 * DAY - fx.clock.now() - HOUR);
    await fx.wf.tick();
    expect(institute.notices('WorkflowReminder', ref)).toEqual([]);
    fx.clock.advance(2 * HOUR);
    await fx.wf.tick();
    await until(() => institute.notices('WorkflowReminder', ref).length === 1);
    expect(institute.notices('WorkflowReminder', ref)[0]).toMatchObject({ party: 'xc-training', awaited: 'TrainingCompleted for every confirmed trainee', state: 'closed', dueAt: iso(endsAt + 7 * DAY) });
    expect(fx.party('xa-prosecutor').notices('WorkflowReminder', ref)).toEqual([]);
    expect(centre.notices('WorkflowEscalation', ref)).toEqual([]);

    fx.clock.advance(7 * DAY);
    await fx.wf.tick();
    await until(() => centre.notices('WorkflowEscalation', ref).length === 1);
    expect(centre.notices('WorkflowEscalation', ref)[0]).toMatchObject({ overdueParty: 'xc-training', supervisorRole: 'analyst-centre', deadline: 'completion-report' });
    expect(fx.caseOf(ref)!.supervisors).toEqual(['mac-centre']);

    await institute.client.send('TrainingCompleted', { courseCode: 'SOM-301', traineeName: 'Officer 1', result: 'passed' }, { to: 'xa-prosecutor', causationId: a.id });
    await fx.caseIn(ref, 'completed');
  });

  it('a declined or wait-listed enrolment, and a declined seat when the first waiting agency has reached its per-agency limit', async () => {
    const institute = fx.party('xc-training');
    const ref = courseRef('SOM-401');
    await openCourse('SOM-401', 2, { seatsPerAgency: 1 });
    const a1 = await enrol('xa-border-police', 'SOM-401', 1);
    await settled(ref, 2);
    const a2 = await enrol('xa-border-police', 'SOM-401', 2);
    await settled(ref, 3);
    const b1 = await enrol('xb-police', 'SOM-401', 3);
    await settled(ref, 4);
    const c1 = await enrol('xa-coast-guard', 'SOM-401', 4);
    await settled(ref, 5);
    // One seat per agency: the border police's second trainee waits although a seat was free.
    expect(itemsOf(ref).map((i) => [i.ref, i.state])).toEqual([
      [a1.id, 'confirmed'],
      [a2.id, 'waitlisted'],
      [b1.id, 'confirmed'],
      [c1.id, 'waitlisted'],
    ]);
    // Declining a wait-listed enrolment frees no seat.
    const d = await enrol('xa-ngo-harbour', 'SOM-401', 5);
    await settled(ref, 6);
    await institute.client.send('EnrolmentDecision', { requestId: d.id, courseCode: 'SOM-401', outcome: 'ENROLMENT_OUTCOME_DECLINED', reason: 'not a smuggling case worker' }, { to: 'xa-ngo-harbour' });
    await settled(ref, 7);
    expect(itemsOf(ref).find((i) => i.ref === d.id)!.state).toBe('declined');
    expect(itemsOf(ref).filter((i) => i.state === 'confirmed')).toHaveLength(2);

    // xb-police's seat is declined: the border police (first waiting) may not take a second seat,
    // so the seat goes to the first waiting agency that may: the coast guard.
    await institute.client.send('EnrolmentDecision', { requestId: b1.id, courseCode: 'SOM-401', outcome: 'ENROLMENT_OUTCOME_DECLINED' }, { to: 'xb-police' });
    await settled(ref, 9);
    expect(itemsOf(ref).map((i) => [i.ref, i.state])).toEqual([
      [a1.id, 'confirmed'],
      [a2.id, 'waitlisted'],
      [b1.id, 'declined'],
      [c1.id, 'confirmed'],
      [d.id, 'declined'],
    ]);
    await until(() => fx.party('xa-coast-guard').notices('WorkflowStateChange', ref).some((n) => n.itemRef === c1.id && n.itemState === 'confirmed'));
  });

  it('non-parties, an ineligible trainee, and decisions on unknown or unconfirmed enrolments are refused; the policy stops roles at the SDK', async () => {
    const institute = fx.party('xc-training');
    const other = fx.party('xd-training');
    const border = fx.party('xa-border-police');
    const ref = courseRef('SOM-501');
    await openCourse('SOM-501', 1, { eligibleRoles: ['TRAINEE_ROLE_BORDER_OFFICER', 'TRAINEE_ROLE_INVESTIGATOR'] });
    const a = await enrol('xa-border-police', 'SOM-501', 1);
    const w = await enrol('xb-police', 'SOM-501', 2);
    await settled(ref, 3);
    const before = structuredClone(fx.caseOf(ref)!);

    // A prosecutor is not among the eligible roles (guard).
    const judge = await enrol('xa-prosecutor', 'SOM-501', 3);
    const g = await rejectionOf(fx.party('xa-prosecutor'), judge.id);
    expect(g).toMatchObject({ code: 'ERR_WORKFLOW_GUARD', caseRef: ref, currentState: 'open' });
    expect(String(g.reason)).toContain("the trainee's role is TRAINEE_ROLE_PROSECUTOR");

    // Another institute deciding on, or completing, an enrolment of this course. Decisions and
    // completions find their course by the sender's own course key (an institute can only ever
    // address its own courses), so the registry finds no course of xd-training's and refuses them as
    // such: xc-training's course is out of its reach.
    const foreign = await other.client.send('EnrolmentDecision', { requestId: a.id, courseCode: 'SOM-501', outcome: 'ENROLMENT_OUTCOME_DECLINED' }, { to: 'xa-border-police' });
    const foreignDone = await other.client.send('TrainingCompleted', { courseCode: 'SOM-501', traineeName: 'Officer 1' }, { to: 'xa-border-police', causationId: a.id });
    for (const msg of [foreign, foreignDone]) {
      const fr = await rejectionOf(other, msg.id);
      expect(fr).toMatchObject({ code: 'ERR_WORKFLOW_UNKNOWN_CASE', caseRef: courseRef('SOM-501', 'xd-training'), refusedSender: 'xd-training' });
      // The enrolling agency it wrote to is told the message did not count.
      await rejectionOf(border, msg.id);
    }
    expect(fx.caseOf(courseRef('SOM-501', 'xd-training'))).toBeUndefined();
    // …and cannot read the course's enrolments.
    expect((await other.client.request('CaseQuery', { caseRef: ref })).body.cases ?? []).toEqual([]);

    // The institute itself: a decision on no enrolment, a completion without the enrolment named or for a wait-listed one.
    const nothing = await institute.client.send('EnrolmentDecision', { requestId: '01a2a2a2-0000-7000-8000-000000000000', courseCode: 'SOM-501', outcome: 'ENROLMENT_OUTCOME_ACCEPTED' }, { to: 'xa-border-police' });
    expect(String((await rejectionOf(institute, nothing.id)).reason)).toContain('no enrolment');
    const unnamed = await institute.client.send('TrainingCompleted', { courseCode: 'SOM-501', traineeName: 'Officer 1' }, { to: 'xa-border-police' });
    expect(String((await rejectionOf(institute, unnamed.id)).reason)).toContain('must name the enrolment request');
    const waiting = await institute.client.send('TrainingCompleted', { courseCode: 'SOM-501', traineeName: 'Officer 2' }, { to: 'xb-police', causationId: w.id });
    const wr = await rejectionOf(institute, waiting.id);
    expect(wr.code).toBe('ERR_WORKFLOW_GUARD');
    expect(String(wr.reason)).toContain('is waitlisted, not confirmed');
    const after = fx.caseOf(ref)!;
    expect(after.items).toEqual(before.items);
    expect(after.timeline).toEqual(before.timeline);

    // Roles the policy forbids are refused before anything is published.
    await expect(border.client.send('EnrolmentDecision', { requestId: a.id, courseCode: 'SOM-501', outcome: 'ENROLMENT_OUTCOME_ACCEPTED' }, { to: 'xc-training' })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
    await expect(border.client.send('TrainingCompleted', { courseCode: 'SOM-501' }, { to: 'xa-border-police', causationId: a.id })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
    await expect(other.client.send('EnrolmentRequest', { courseCode: 'SOM-501', traineeRole: 'TRAINEE_ROLE_INVESTIGATOR' }, { to: 'xc-training' })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
    await expect(fx.party('mac-centre').client.send('EnrolmentRequest', { courseCode: 'SOM-501', traineeRole: 'TRAINEE_ROLE_ANALYST' }, { to: 'xc-training' })).rejects.toMatchObject({ code: 'ERR_POLICY_SEND_DENIED' });
  });
});
