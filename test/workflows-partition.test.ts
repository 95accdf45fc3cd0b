import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import type { CaseRecord } from '../services/workflows/model.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { ManualClock, until, workflowPolicyText } from './support/workflows.ts';

/**
 * Issue 13: the case registry partitions its work by case — transitions of different cases run at
 * once, the messages of one case one after another in stream order, and two replicas sharing the
 * consumers neither lose nor double a transition.
 */

const referral = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Rescued at sea; asks for shelter.', consentRecorded: true };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What runs when a message's turn on its case comes (set per test). */
type Turn = (caseKey: string, msg: ReceivedMessage) => void | Promise<void>;

describe('case registry partitioned by case (issue 13)', () => {
  let fed: TestFederation;
  let wf: Workflows;
  let police: LiaisonClient;
  let ngo: LiaisonClient;
  let turn: Turn | undefined;
  const policeInbox: ReceivedMessage[] = [];
  const caseOf = (ref: string): CaseRecord | undefined => wf.cases().find((c) => c.ref === ref);
  const updatesOf = (ref: string) => caseOf(ref)?.timeline.filter((s) => s.transition === 'update').map((s) => s.messageId) ?? [];

  /** Open `n` protection referrals and bring them to `accepted`; their case keys. */
  async function acceptedCases(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await police.send('CaseReferral', referral, { to: 'xa-ngo-harbour' })).id);
    const refs = ids.map((id) => `case-referral.${id}`);
    await until(() => refs.every((r) => caseOf(r)?.state === 'referred'), 20_000, 'cases referred');
    for (const id of ids) await ngo.send('ReferralAcknowledgement', { referralId: id }, { to: 'xa-border-police' });
    await until(() => refs.every((r) => caseOf(r)?.state === 'acknowledged'), 20_000, 'cases acknowledged');
    for (const id of ids) await ngo.send('ReferralDecision', { referralId: id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' }, { to: 'xa-border-police' });
    await until(() => refs.every((r) => caseOf(r)?.state === 'accepted'), 20_000, 'cases accepted');
    return refs;
  }

  /** Send a ReferralUpdate on a case (awaited: the stream holds the updates in the order sent). */
  const update = async (ref: string, note: string) => (await ngo.send('ReferralUpdate', { referralId: ref.slice('case-referral.'.length), status: 'REFERRAL_STATUS_IN_PROGRESS', note }, { to: 'xa-border-police' })).id;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['mac-cases', 'xa-border-police', 'xa-ngo-harbour'], name: 'wf-partition', policyText: await workflowPolicyText() });
    const registry = await fed.connect('mac-cases');
    wf = await startWorkflows({ client: registry, clock: new ManualClock(), tickMs: 0, beforeApply: (key, msg) => turn?.(key, msg) });
    police = await fed.connect('xa-border-police');
    ngo = await fed.connect('xa-ngo-harbour');
    await police.consume((m) => void policeInbox.push(m), { types: ['WorkflowStateChange'] });
    await ngo.consume(() => undefined, { types: ['WorkflowStateChange'] });
  }, 60_000);
  afterAll(async () => {
    await wf?.stop();
    await fed?.stop();
  });

  it('200 replies interleaved over 20 cases: every case applies its own in the order sent, none lost, none twice, the parties told in order', async () => {
    const refs = await acceptedCases(20);
    const sent = new Map<string, string[]>(refs.map((r) => [r, []]));
    // Round-robin: case 0, 1, …, 19, case 0, 1, … — each case's updates interleaved with every other case's.
    for (let round = 0; round < 8; round++) for (const ref of refs) sent.get(ref)!.push(await update(ref, `round ${round}`));
    await until(() => refs.every((r) => updatesOf(r).length >= 8 && caseOf(r)!.outbox.length === 0), 60_000, 'every update applied');

    for (const ref of refs) {
      const c = caseOf(ref)!;
      expect(c.timeline.map((s) => s.transition)).toEqual(['open', 'acknowledge', 'accept', ...Array<string>(8).fill('update')]);
      expect(updatesOf(ref)).toEqual(sent.get(ref));
      expect(new Set(c.applied).size).toBe(c.applied.length);
    }
    expect(wf.stats.applied).toBe(20 * 11);
    expect(wf.stats.rejected).toEqual({});
    // The requesting party hears of each case's steps in the order they were applied (revision = timeline length).
    await until(() => refs.every((r) => policeInbox.filter((m) => m.body.caseRef === r).length === 11), 30_000, 'every notice at the police');
    for (const ref of refs) {
      const revisions = policeInbox.filter((m) => m.body.caseRef === ref).map((m) => Number(m.body.revision));
      expect(revisions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    }
  }, 180_000);

  it('a slow transition on case A does not hold case B: B is applied while A is still held', async () => {
    const [a, b] = await acceptedCases(2);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let aEntered = false;
    turn = async (key, msg) => {
      if (key === a && msg.type === 'ReferralUpdate') {
        aEntered = true;
        await held;
      }
    };
    try {
      const onA = await update(a!, 'slow');
      const onB = await update(b!, 'quick');
      await until(() => aEntered, 10_000, 'the update on A reaches its turn');
      const t0 = Date.now();
      await until(() => updatesOf(b!).includes(onB), 10_000, 'the update on B applied while A is held');
      expect(updatesOf(a!)).not.toContain(onA);
      expect(Date.now() - t0).toBeLessThan(10_000);
      release();
      await until(() => updatesOf(a!).includes(onA), 10_000, 'the update on A applied once released');
    } finally {
      release();
      turn = undefined;
    }
  }, 120_000);

  it('one case never runs two transitions at once, while different cases do', async () => {
    const refs = await acceptedCases(5);
    const running = new Map<string, number>();
    let most = 0;
    let mostOnOneCase = 0;
    let now = 0;
    turn = async (key, msg) => {
      if (msg.type !== 'ReferralUpdate') return;
      const n = (running.get(key) ?? 0) + 1;
      running.set(key, n);
      now++;
      mostOnOneCase = Math.max(mostOnOneCase, n);
      most = Math.max(most, now);
      await sleep(40);
      running.set(key, running.get(key)! - 1);
      now--;
    };
    try {
      const sent: string[] = [];
      for (let round = 0; round < 6; round++) for (const ref of refs) sent.push(await update(ref, `round ${round}`));
      await until(() => refs.every((r) => updatesOf(r).length === 6), 60_000, 'every update applied');
      expect(mostOnOneCase).toBe(1);
      // Not vacuous: transitions of different cases did overlap.
      expect(most).toBeGreaterThan(1);
      expect(refs.flatMap(updatesOf).sort()).toEqual([...sent].sort());
    } finally {
      turn = undefined;
    }
  }, 120_000);

  it('consume refuses a concurrency that is not an integer from 1 to 1024 (ERR_USAGE), before any consumer starts', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 1025]) {
      await expect(police.consume(() => undefined, { types: ['WorkflowStateChange'], concurrency: bad })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    }
  });

  it('two replicas sharing the consumers: every transition applied exactly once (compare-and-set conflicts retried)', async () => {
    const second = await fed.connect('mac-cases');
    const wf2 = await startWorkflows({ client: second, clock: new ManualClock(), tickMs: 0 });
    try {
      const refs = await acceptedCases(10);
      const sent = new Map<string, string[]>(refs.map((r) => [r, []]));
      for (let round = 0; round < 10; round++) for (const ref of refs) sent.get(ref)!.push(await update(ref, `round ${round}`));
      await until(() => refs.every((r) => updatesOf(r).length >= 10), 60_000, 'every update applied');
      await sleep(500);
      for (const ref of refs) {
        expect([...updatesOf(ref)].sort()).toEqual([...sent.get(ref)!].sort());
        expect(new Set(caseOf(ref)!.applied).size).toBe(caseOf(ref)!.applied.length);
      }
    } finally {
      await wf2.stop();
      await second.close();
    }
  }, 180_000);
});
