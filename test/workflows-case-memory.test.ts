import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { ManualClock, until, workflowPolicyText } from './support/workflows.ts';

/**
 * Issue 13: the case registry's memory is bounded. It keeps the cases its deadline tick needs (open
 * ones with deadlines) and the `cacheCases` most recently used others; a case dropped from memory stays
 * in the bucket, and queries, follow-ups and retractions that name it read it back.
 */

const referral = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Rescued at sea; asks for shelter.', consentRecorded: true };
const CAP = 3;
const DECLINED = 8;
const OPEN = 2;

describe('case registry memory bounded (issue 13)', () => {
  let fed: TestFederation;
  let wf: Workflows;
  let police: LiaisonClient;
  let ngo: LiaisonClient;
  const ngoInbox: ReceivedMessage[] = [];
  const declined: string[] = [];
  const declineIds: string[] = [];
  const open: string[] = [];
  const query = async (body: Record<string, unknown>) => (await police.request('CaseQuery', body)).body.cases as { caseRef: string; state: string }[];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['mac-cases', 'xa-border-police', 'xa-ngo-harbour'], name: 'wf-case-memory', policyText: await workflowPolicyText() });
    wf = await startWorkflows({ client: await fed.connect('mac-cases'), clock: new ManualClock(), tickMs: 0, cacheCases: CAP });
    police = await fed.connect('xa-border-police');
    ngo = await fed.connect('xa-ngo-harbour');
    await police.consume(() => undefined, { types: ['WorkflowStateChange', 'WorkflowRejection'] });
    await ngo.consume((m) => void ngoInbox.push(m), { types: ['WorkflowStateChange', 'WorkflowRejection'] });

    // More closed cases than the cap (declined: terminal, no deadline), and a few open ones (a decision deadline each).
    for (let i = 0; i < DECLINED + OPEN; i++) {
      const id = (await police.send('CaseReferral', referral, { to: 'xa-ngo-harbour' })).id;
      (i < DECLINED ? declined : open).push(id);
    }
    await until(() => wf.stats.opened === DECLINED + OPEN, 20_000, 'cases opened');
    for (const id of declined) {
      declineIds.push((await ngo.send('ReferralDecision', { referralId: id, decision: 'REFERRAL_DECISION_KIND_DECLINED', reason: 'no capacity' }, { to: 'xa-border-police' })).id);
    }
    await until(() => wf.stats.applied === 2 * DECLINED + OPEN, 20_000, 'cases declined');
    // Their notices published (a case with notices to publish is held for the tick until they are).
    await until(() => wf.cases().every((c) => c.outbox.length === 0), 20_000, 'notices published');
  }, 90_000);
  afterAll(async () => {
    await wf?.stop();
    await fed?.stop();
  });

  it('closed cases leave memory past the cap; the open ones with deadlines all stay', () => {
    const memory = wf.memory();
    expect(memory.cases).toBeLessThanOrEqual(CAP + OPEN);
    expect(memory.evicted).toBeGreaterThanOrEqual(DECLINED - CAP);
    const held = new Set(wf.cases().map((c) => c.ref));
    for (const id of open) expect(held.has(`case-referral.${id}`)).toBe(true);
    // The oldest declined cases are the ones dropped.
    expect(held.has(`case-referral.${declined[0]}`)).toBe(false);
  });

  it('queries see every case, those dropped from memory read back from the bucket', async () => {
    const all = await query({ workflow: 'case-referral' });
    expect(all.map((c) => c.caseRef).sort()).toEqual([...declined, ...open].map((id) => `case-referral.${id}`).sort());
    expect((await query({ state: 'declined' })).length).toBe(DECLINED);
    const one = await query({ caseRef: `case-referral.${declined[0]}` });
    expect(one).toHaveLength(1);
    expect(one[0]!.state).toBe('declined');
    expect(wf.memory().scans).toBeGreaterThan(0);
  });

  it('a follow-up on a dropped case is judged against the stored case (refused as closed, not as unknown)', async () => {
    const id = declined[1]!;
    await ngo.send('ReferralUpdate', { referralId: id, status: 'REFERRAL_STATUS_IN_PROGRESS', note: 'late' }, { to: 'xa-border-police' });
    await until(() => ngoInbox.some((m) => m.type === 'WorkflowRejection' && m.body.caseRef === `case-referral.${id}`), 15_000, 'the refusal');
    const refusal = ngoInbox.find((m) => m.type === 'WorkflowRejection' && m.body.caseRef === `case-referral.${id}`)!;
    expect(refusal.body.currentState).toBe('declined');
    expect(refusal.body.code).not.toBe('ERR_WORKFLOW_UNKNOWN_CASE');
  });

  it('a retraction on a dropped case finds it and applies: the decline is undone', async () => {
    const ref = `case-referral.${declined[2]}`;
    expect(wf.cases().some((c) => c.ref === ref)).toBe(false);
    await ngo.retract(declineIds[2]!, 'declined the wrong referral');
    await until(() => wf.stats.retracted === 1, 15_000, 'the retraction applied');
    const [c] = await query({ caseRef: ref });
    expect(c!.state).not.toBe('declined');
    // Open again, with its decision deadline: memory holds it for the tick.
    expect(wf.cases().some((x) => x.ref === ref)).toBe(true);
  });
});
