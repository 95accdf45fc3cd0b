/**
 * A message is (sender, id) everywhere (issue 12, finding 3). Ids come from the sender, so one
 * agency can always reuse the id of another's message: nothing may then confuse the two.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { messageSubject } from '../services/sdk/subjects.ts';
import { createEnvelopeCodec } from '../services/sdk/envelope/codec.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { codeOfAsync as refused } from './support/outcome.ts';
import { RawAgency } from './support/violations.ts';
import { startCentre } from '../services/centre/index.ts';
import { entityHash } from '../services/centre/store.ts';
import { randomBytes } from 'node:crypto';
import { runCli } from '../services/cli/main.ts';
import { ChangeHistory } from '../services/registry/history.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry } from '../services/registry/service.ts';
import { keyToken } from '../services/workflows/definitions/read.ts';
import { startWorkflowFixture, until as waitFor, type WorkflowFixture } from './support/workflows.ts';

const until = async (pred: () => boolean | Promise<boolean>, ms = 8_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return await pred();
};

const REFERRAL = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Reuses another agency’s message id.', consentRecorded: true };
const OFFER = {
  courseCode: 'ID-101',
  title: 'Evidence gathering from the point of interception',
  eligibleRoles: ['TRAINEE_ROLE_BORDER_OFFICER'],
  seats: 4,
  delivery: 'DELIVERY_MODE_IN_PERSON',
};

describe('a message is (sender, id) everywhere (issue 12, finding 3)', () => {
  let fed: TestFederation;
  let training: LiaisonClient;
  let ngo: LiaisonClient;
  let border: LiaisonClient;
  let xb: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({
      agencies: ['xc-training', 'xa-ngo-harbour', 'xa-border-police', 'xb-police', 'xb-return', 'xa-coast-guard', 'xa-prosecutor', 'mac-centre', 'xc-ncb'],
      name: 'identity',
    });
    training = await fed.connect('xc-training');
    ngo = await fed.connect('xa-ngo-harbour');
    border = await fed.connect('xa-border-police');
    xb = await fed.connect('xb-police');
  });
  afterAll(async () => {
    await fed?.stop();
  });

  describe('the exchange’s retraction service', () => {
    it('another agency reusing an id retracts only its own message; the real sender can still retract its own', async () => {
      const offer = await training.send('TrainingOffer', { ...OFFER, courseCode: 'ID-A' });
      // The NGO signs a message of its own with the offer's id, then retracts "that id".
      const forged = await ngo.send('CaseReferral', REFERRAL, { to: 'xb-return', id: offer.id });
      expect(forged.id).toBe(offer.id);
      const ngoRetraction = await ngo.retract(offer.id, 'mine');
      expect(ngoRetraction.record).toMatchObject({ sender: 'xa-ngo-harbour', originalType: 'CaseReferral', originalRecipient: 'xb-return' });
      expect(ngoRetraction.record.copies.every((c) => c.subject.split('.')[5] === 'xa-ngo-harbour')).toBe(true);

      // The offer is untouched: an agency that had not read it yet still gets it.
      const seen: ReceivedMessage[] = [];
      expect(
        await until(async () => {
          await border.drain((m) => void seen.push(m), { types: ['TrainingOffer'], expiresMs: 1_000 });
          return seen.some((m) => m.header.id === offer.id && m.header.sender === 'xc-training');
        }),
      ).toBe(true);

      // Its real sender retracts it, under its own record.
      const own = await training.retract(offer.id, 'course cancelled');
      expect(own.record).toMatchObject({ sender: 'xc-training', originalType: 'TrainingOffer', reason: 'course cancelled' });
      expect(own.record.recipients.map((r) => r.agency)).toContain('xa-border-police');
      expect((await training.retractionStatus(offer.id)).sender).toBe('xc-training');
      expect((await ngo.retractionStatus(offer.id)).sender).toBe('xa-ngo-harbour');
      // Each answers its own record on a repeat.
      expect((await ngo.retract(offer.id, 'again')).record.originalType).toBe('CaseReferral');
      expect((await training.retract(offer.id, 'again')).record.originalType).toBe('TrainingOffer');
    });

    it('an agency that holds no copy of its own is refused, and changes nothing', async () => {
      const offer = await training.send('TrainingOffer', { ...OFFER, courseCode: 'ID-B' });
      expect(await refused(ngo.retract(offer.id, 'not mine'))).toBe('ERR_RETRACT_NOT_SENDER');
      expect(await refused(ngo.retractionStatus(offer.id))).toBe('ERR_RETRACT_UNKNOWN');
      expect((await training.retract(offer.id, 'cancelled')).record.sender).toBe('xc-training');
      expect(await refused(ngo.retractionStatus(offer.id))).toBe('ERR_RETRACT_NOT_SENDER');
      // The refusal does not tell the caller who else used the id: that agency may be one it is not allowed to know of.
      const refusal = await ngo.retractionStatus(offer.id).then(() => undefined, (err: unknown) => err);
      expect(String((refusal as Error).message)).not.toContain('xc-training');
    });

    it('a copy on the caller’s own subject is its own only when the caller signed it (a re-published envelope of another is not)', async () => {
      const original = await border.send('IntelligenceReport', { summary: 'Vessel CHARLIE sighted' }, { to: 'xb-police' });
      const copy = original.copies[0]!;
      // xb-police received these exact bytes; it publishes them again on its own subject, claiming the id.
      const admin = await jetstreamManager(fed.exchange.admin);
      const stored = await admin.streams.getMessage(copy.stream, { seq: copy.seq });
      const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xb-police']!, 'xb-police');
      try {
        const h = natsHeaders();
        h.set('ce-id', original.id);
        h.set('Nats-Msg-Id', `xb-police:${original.id}:${copy.tier}`);
        const subject = messageSubject({ tier: copy.tier as 'personal', family: 'cooperation', type: 'IntelligenceReport', sender: 'xb-police', recipient: 'xa-border-police' });
        const ack = await jetstream(raw.nc).publish(subject, stored!.data, { headers: h });
        expect(ack.duplicate).toBe(false);
      } finally {
        await raw.close();
      }
      expect(await refused(xb.retract(original.id, 'claiming it'))).toBe('ERR_RETRACT_NOT_SENDER');
      // The real sender retracts it; the record names it and the re-published copy is not among its copies.
      const own = await border.retract(original.id, 'wrong vessel');
      expect(own.record.sender).toBe('xa-border-police');
      expect(own.record.copies.map((c) => c.subject.split('.')[5])).toEqual(['xa-border-police']);
    });
    it('a copy whose signed header names the caller but whose signature does not verify is not the caller’s', async () => {
      const original = await border.send('IntelligenceReport', { summary: 'Vessel DELTA sighted' }, { to: 'xb-police' });
      const copy = original.copies[0]!;
      const admin = await jetstreamManager(fed.exchange.admin);
      const stored = await admin.streams.getMessage(copy.stream, { seq: copy.seq });
      // xb-police rewrites the signed header to name itself, keeping xa-border-police's signature.
      const codec = createEnvelopeCodec(loadCatalog().envelopeTypes);
      const env = codec.decodeEnvelope(stored!.data);
      const { header, body } = codec.decodeSigned(env.signed);
      const forged = codec.encodeEnvelope({ ...env, signed: codec.encodeSigned({ ...header, sender: 'xb-police', recipient: 'xa-border-police' }, body) });
      const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xb-police']!, 'xb-police');
      try {
        const h = natsHeaders();
        h.set('ce-id', original.id);
        h.set('Nats-Msg-Id', `xb-police:${original.id}:${copy.tier}`);
        const subject = messageSubject({ tier: copy.tier as 'personal', family: 'cooperation', type: 'IntelligenceReport', sender: 'xb-police', recipient: 'xa-border-police' });
        expect((await jetstream(raw.nc).publish(subject, forged, { headers: h })).duplicate).toBe(false);
      } finally {
        await raw.close();
      }
      expect(await refused(xb.retract(original.id, 'claiming it'))).toBe('ERR_RETRACT_NOT_SENDER');
      expect((await border.retract(original.id, 'wrong vessel')).record.sender).toBe('xa-border-police');
    });
  });

  describe('the multiagency centre', () => {
    const intel = (summary: string) => ({ summary, vessel: { imoNumber: '9111111', kind: 'fishing vessel' }, location: 'Port Zeta', observedAt: new Date().toISOString() });

    it('analyses another sender’s message with an id it has seen, and a retraction drops only its sender’s occurrence', async () => {
      const centre = await startCentre({ client: await fed.connect('mac-centre'), reportEveryMs: 0, minPublicCount: 1 });
      try {
        const record = async () => (await centre.store.entity(entityHash('imo:9111111')))?.record;
        const first = await xb.send('IntelligenceReport', intel('Fishing vessel seen loading people'));
        await border.send('IntelligenceReport', intel('Same vessel at Port Zeta'), { id: first.id });
        expect(await until(async () => (await centre.store.factsOf(first.id)).length === 2)).toBe(true);
        expect((await record())!.occurrences.map((o) => [o.agency, o.messageId])).toEqual([
          ['xb-police', first.id],
          ['xa-border-police', first.id],
        ]);
        expect((await record())!.linkedAt).toBeDefined();

        await xb.retract(first.id, 'vessel misidentified');
        expect(await until(async () => (await centre.store.facts('xb-police', first.id))?.retracted !== undefined)).toBe(true);
        expect((await record())!.occurrences.map((o) => o.agency)).toEqual(['xa-border-police']);
        expect((await centre.store.facts('xa-border-police', first.id))?.retracted).toBeUndefined();
      } finally {
        await centre.stop();
      }
    });
  });

  describe('the ¶16 registry', () => {
    it('an agency reusing the id of another’s person alert neither replaces it nor keeps its sender from retracting it (each alert is its sender’s)', async () => {
      const key = randomBytes(32);
      const registry = await startRegistry({ client: await fed.connect('xc-ncb'), store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
      try {
        const person = { name: { givenNames: 'Tariq', familyName: 'Mansour' }, birthDate: '1981-02-03' };
        const hit = async () => String((await xb.request('PersonCheckRequest', { subject: person })).body.outcome);
        const genuine = await border.send('PersonAlert', { subject: person });
        expect(await until(() => registry.stats.alerts >= 1)).toBe(true);
        expect(await hit()).toBe('CHECK_OUTCOME_HIT');
        // xb-police sends an alert of its own about someone else under the same message id: another alert, its own.
        const other = { name: { givenNames: 'Someone', familyName: 'Else' }, birthDate: '1990-01-01' };
        await xb.send('PersonAlert', { subject: other }, { id: genuine.id });
        expect(await until(() => registry.stats.alerts >= 2)).toBe(true);
        expect(await hit()).toBe('CHECK_OUTCOME_HIT');
        const reference = async (p: typeof person) => String((await xb.request('PersonCheckRequest', { subject: p })).body.alertReference);
        expect(await reference(person)).toBe(`xa-border-police:${genuine.id}`);
        expect(await reference(other)).toBe(`xb-police:${genuine.id}`);
        // Its real sender retracts it: the alert stops hitting; xb-police's stands.
        await border.retract(genuine.id, 'alert issued in error');
        expect(await until(async () => (await hit()) !== 'CHECK_OUTCOME_HIT')).toBe(true);
        expect(String((await xb.request('PersonCheckRequest', { subject: other })).body.outcome)).toBe('CHECK_OUTCOME_HIT');
      } finally {
        await registry.stop();
      }
    });

    it('the change history keeps each sender’s change under the same id apart: each undoes only its own', () => {
      const h = new ChangeHistory<string>();
      h.record({ id: 'm', by: 'xa-border-police', key: 'doc', before: 'S0' });
      h.record({ id: 'm', by: 'xa-airport-police', key: 'doc', before: 'S1' });
      expect(h.size).toBe(2);
      expect(h.knows('m', 'xa-airport-police')).toBe(true);
      expect(h.retract('m', 'xa-airport-police')).toEqual([{ key: 'doc', restore: 'S1' }]);
      expect(h.knows('m', 'xa-border-police')).toBe(true);
      expect(h.retract('m', 'xa-border-police')).toEqual([{ key: 'doc', restore: 'S0' }]);
      expect(h.size).toBe(0);
    });
  });

  describe('receivers and streams', () => {
    it('a receiver does not drop a message as a duplicate of another sender’s message with the same id', async () => {
      const offer = await training.send('TrainingOffer', { ...OFFER, courseCode: 'ID-C' });
      // A police agency sends the NGO a referral with the id of the offer the NGO has not read yet.
      await border.send('CaseReferral', REFERRAL, { to: 'xa-ngo-harbour', id: offer.id });
      const got: ReceivedMessage[] = [];
      const has = (sender: string, type: string) => got.some((m) => m.header.id === offer.id && m.header.sender === sender && m.type === type);
      expect(
        await until(async () => {
          await ngo.drain((m) => void got.push(m), { types: ['TrainingOffer', 'CaseReferral'], expiresMs: 1_000 });
          return has('xc-training', 'TrainingOffer') && has('xa-border-police', 'CaseReferral');
        }),
      ).toBe(true);
    });

    it('a stream does not drop a message because another sender stored one with the same id first (Nats-Msg-Id is per sender)', async () => {
      const id = (await xb.send('IntelligenceReport', { summary: 'first, by xb-police' }, { to: 'xa-coast-guard' })).id;
      const second = await border.send('IntelligenceReport', { summary: 'second, by xa-border-police' }, { to: 'xa-coast-guard', id });
      expect(second.copies.map((c) => c.duplicate)).toEqual(second.copies.map(() => false));
      // The same sender repeating its id is still de-duplicated.
      const repeat = await border.send('IntelligenceReport', { summary: 'second, by xa-border-police' }, { to: 'xa-coast-guard', id });
      expect(repeat.copies.map((c) => c.duplicate)).toEqual(repeat.copies.map(() => true));
      const coast = await fed.connect('xa-coast-guard');
      const got: ReceivedMessage[] = [];
      expect(
        await until(async () => {
          await coast.drain((m) => void got.push(m), { types: ['IntelligenceReport'], expiresMs: 1_000 });
          return new Set(got.filter((m) => m.header.id === id).map((m) => m.header.sender)).size === 2;
        }),
      ).toBe(true);

      // liaison explain tells the two messages apart: one explanation per sender, never merged.
      await fed.exchange.audit!.flush();
      const out: string[] = [];
      const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), interrupted: new Promise<void>(() => undefined) };
      expect(await runCli(['explain', '--dir', fed.trustDir, '--server', fed.server.url, id, '--json'], io)).toBe(0);
      const explained = out.map((l) => JSON.parse(l) as { sender: string; copies: { subject: string }[] });
      expect(explained.map((x) => x.sender)).toEqual(['xa-border-police', 'xb-police']);
      for (const x of explained) expect(x.copies.every((c) => c.subject.split('.')[5] === x.sender)).toBe(true);
      out.length = 0;
      expect(await runCli(['explain', '--dir', fed.trustDir, '--server', fed.server.url, id, '--from', 'xb-police'], io)).toBe(0);
      expect(out[0]).toBe(`IntelligenceReport ${id} from xb-police to xa-coast-guard`);
    });
  });
});

describe('the case registry: a message is (sender, id) (issue 12, finding 3)', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('identity-cases', ['xa-border-police', 'xa-ngo-harbour', 'xb-police', 'xa-prosecutor', 'xc-training']);
  });
  afterAll(async () => fx?.stop());

  it('a case applies another party’s message that reuses an id already in it, and a retraction undoes only its sender’s step', async () => {
    const police = fx.party('xa-border-police').client;
    const ngo = fx.party('xa-ngo-harbour').client;
    const sent = await police.send('CaseReferral', REFERRAL, { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    await ngo.send('ReferralDecision', { referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED', assignedProgramme: 'shelter' }, { to: 'xa-border-police' });
    await fx.caseIn(ref, 'accepted');
    const ngoUpdate = await ngo.send('ReferralUpdate', { referralId: sent.id, status: 'REFERRAL_STATUS_IN_PROGRESS' }, { to: 'xa-border-police' });
    await fx.caseIn(ref, 'in-progress');
    // The referring police sends an update of its own under the same id: another message, applied.
    await police.send('ReferralUpdate', { referralId: sent.id, status: 'REFERRAL_STATUS_IN_PROGRESS', note: 'police note' }, { to: 'xa-ngo-harbour', id: ngoUpdate.id });
    const stepsOf = () => fx.caseOf(ref)!.timeline.filter((s) => s.messageId === ngoUpdate.id && s.messageType === 'ReferralUpdate');
    await waitFor(() => stepsOf().length === 2, 8_000, 'both updates applied');
    expect(stepsOf().map((s) => s.actor)).toEqual(['xa-ngo-harbour', 'xa-border-police']);
    // Each party is told of each update: the notices of one are not taken for repeats of the other's.
    const told = (party: string) => fx.party(party).notices('WorkflowStateChange', ref).filter((n) => n.causeMessageId === ngoUpdate.id).map((n) => n.actor);
    await waitFor(() => told('xa-ngo-harbour').length === 2 && told('xa-border-police').length === 2, 8_000, 'both updates told to both parties');
    expect(told('xa-ngo-harbour').sort()).toEqual(['xa-border-police', 'xa-ngo-harbour']);

    // The police retracts its own update: its step is undone, the NGO's stands.
    await police.retract(ngoUpdate.id, 'note was for another case');
    await waitFor(() => stepsOf().some((s) => s.actor === 'xa-border-police' && s.retracted !== undefined), 8_000, 'the police update retracted');
    expect(stepsOf().find((s) => s.actor === 'xa-ngo-harbour')!.retracted).toBeUndefined();
    expect(fx.caseOf(ref)!.timeline.at(-1)).toMatchObject({ transition: 'retract', actor: 'xa-border-police', note: expect.stringContaining('is undone') });
  });

  it('a decision on an enrolment applies to the enrolment of the agency it is addressed to, not another agency’s request with the same id', async () => {
    const institute = fx.party('xc-training').client;
    await institute.send('TrainingOffer', { ...OFFER, courseCode: 'ID-ENROL', eligibleRoles: [] }, { to: 'all' });
    const ref = `training.xc-training.${keyToken('ID-ENROL')}`;
    await fx.caseIn(ref, 'open');
    const request = (agency: string, id?: string) =>
      fx.party(agency).client.send('EnrolmentRequest', { courseCode: 'ID-ENROL', traineeName: `Officer of ${agency}`, unit: 'smuggling unit' }, { to: 'xc-training', ...(id ? { id } : {}) });
    const first = await request('xa-border-police');
    await waitFor(() => fx.caseOf(ref)!.items.length === 1, 8_000, 'the first enrolment');
    await request('xb-police', first.id);
    await waitFor(() => fx.caseOf(ref)!.items.length === 2, 8_000, 'the second enrolment, same id');
    await institute.send('EnrolmentDecision', { requestId: first.id, courseCode: 'ID-ENROL', outcome: 'ENROLMENT_OUTCOME_DECLINED', reason: 'unit not eligible' }, { to: 'xb-police' });
    await waitFor(() => fx.caseOf(ref)!.items.some((i) => i.state === 'declined'), 8_000, 'a declined enrolment');
    expect(Object.fromEntries(fx.caseOf(ref)!.items.map((i) => [i.agency, i.state]))).toEqual({ 'xa-border-police': 'confirmed', 'xb-police': 'declined' });
  });

  it('refusals of two senders’ messages with the same id both reach the agency they were addressed to', async () => {
    const unknownReferral = '01900000-0000-7000-8000-00000000beef';
    const update = { referralId: unknownReferral, status: 'REFERRAL_STATUS_IN_PROGRESS' };
    const first = await fx.party('xb-police').client.send('ReferralUpdate', update, { to: 'xa-ngo-harbour' });
    await fx.party('xa-border-police').client.send('ReferralUpdate', update, { to: 'xa-ngo-harbour', id: first.id });
    const refused = () => fx.party('xa-ngo-harbour').notices('WorkflowRejection').filter((r) => r.causeMessageId === first.id).map((r) => r.refusedSender);
    await waitFor(() => refused().length === 2, 10_000, 'both refusals at the NGO');
    expect(refused().sort()).toEqual(['xa-border-police', 'xb-police']);
  });

  it('a case key derived from an id another agency took first: the genuine referral opens its own case, and the answer to it lands there', async () => {
    const ngo = fx.party('xa-ngo-harbour').client;
    // xb-police took the id first (an agency that learned it in advance) and opened case-referral.<id>.
    const taken = await fx.party('xb-police').client.send('CaseReferral', REFERRAL, { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${taken.id}`;
    await fx.caseIn(ref, 'referred');
    // The genuine referral with that id is not refused as a duplicate: it opens a case of its sender's own.
    const genuine = await fx.party('xa-border-police').client.send('CaseReferral', REFERRAL, { to: 'xa-ngo-harbour', id: taken.id });
    const own = `case-referral.${taken.id}.xa-border-police`;
    await fx.caseIn(own, 'referred');
    expect(fx.caseOf(own)).toMatchObject({ requester: 'xa-border-police', requested: 'xa-ngo-harbour' });
    // The NGO accepts the border police's referral: the answer belongs to the border police's case, not to xb-police's.
    await ngo.send('ReferralDecision', { referralId: taken.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED', assignedProgramme: 'shelter' }, { to: 'xa-border-police' });
    await fx.caseIn(own, 'accepted');
    expect(fx.caseOf(ref)!.state).toBe('referred');
    expect(fx.party('xa-border-police').notices('WorkflowRejection').filter((r) => r.causeMessageId === genuine.id)).toEqual([]);
  });

  it('an agency’s own proposal reusing the id of a proposal it received does not capture the answers to that proposal', async () => {
    const lead = fx.party('xa-border-police').client;
    const xbPolice = fx.party('xb-police').client;
    const parties = [
      { agency: 'xa-border-police', country: 'XAA', role: 'lead', contribution: 'investigators' },
      { agency: 'xb-police', country: 'XBB', role: 'participant', contribution: 'maritime surveillance' },
      { agency: 'xa-prosecutor', country: 'XAA', role: 'participant', contribution: 'judicial coordination' },
    ];
    const proposal = (reference: string, p = parties) => ({ proposalReference: reference, title: 'Operation Id', objective: 'Test identity', legalBasis: 'UNTOC art. 19', parties: p });
    const ref = `joint-investigation.xa-border-police.${keyToken('OP-ID-1')}`;
    await lead.send('JointInvestigationProposal', proposal('OP-ID-1'), { to: 'xa-prosecutor' });
    await fx.caseIn(ref, 'proposed');
    const toXb = await lead.send('JointInvestigationProposal', proposal('OP-ID-1'), { to: 'xb-police' });
    await waitFor(() => fx.caseOf(ref)?.timeline.length === 2, 8_000, 'the second copy applied');
    // xb-police opens a proposal of its own under the id of the copy it received…
    const own = `joint-investigation.xb-police.${keyToken('OP-ID-OWN')}`;
    await xbPolice.send('JointInvestigationProposal', proposal('OP-ID-OWN', [parties[1]!, parties[0]!]), { to: 'xa-border-police', id: toXb.id });
    await fx.caseIn(own, 'proposed');
    // …then answers the lead's proposal: the answer belongs to the lead's case.
    await xbPolice.send('JointInvestigationResponse', { proposalId: toXb.id, answer: 'JOINT_INVESTIGATION_ANSWER_ACCEPTED' }, { to: 'xa-border-police' });
    await waitFor(() => fx.caseOf(ref)!.items.some((i) => i.agency === 'xb-police' && i.state === 'accepted'), 8_000, 'xb-police accepted on the lead’s case');
    expect(fx.caseOf(own)!.timeline.map((s) => s.transition)).toEqual(['open']);
  });
});
