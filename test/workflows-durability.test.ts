import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import type { TestFederation } from './support/federation.ts';
import { createTestFederation } from './support/federation.ts';
import { ManualClock, until, workflowPolicyText } from './support/workflows.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');

/** `liaison workflows up` as a child process; resolves once it reports it is up. */
async function engineProcess(agencyDir: string): Promise<ChildProcess> {
  const child = spawn(NODE, ['services/cli/main.ts', 'workflows', 'up', '--as', agencyDir, '--tick-ms', '200'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => out.includes('case registry up') || child.exitCode !== null, 20_000, 'the case registry process to start');
  if (child.exitCode !== null) throw new Error(`case registry exited: ${out}`);
  return child;
}

const person = { name: { familyName: 'Haddad', givenNames: 'Amir' } };

describe('case registry durability: a crash never loses or doubles an acknowledged transition; replicas agree', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let ngo: LiaisonClient;
  const policeInbox: ReceivedMessage[] = [];
  const ngoInbox: ReceivedMessage[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['mac-cases', 'xa-border-police', 'xa-ngo-harbour', 'mac-centre'], name: 'wf-durability', policyText: await workflowPolicyText() });
    police = await fed.connect('xa-border-police');
    ngo = await fed.connect('xa-ngo-harbour');
    await police.consume((m) => void policeInbox.push(m), { types: ['WorkflowStateChange', 'WorkflowRejection'] });
    await ngo.consume((m) => void ngoInbox.push(m), { types: ['WorkflowStateChange', 'WorkflowRejection'] });
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => fed?.stop());

  const notices = (inbox: ReceivedMessage[], ref: string) => inbox.filter((m) => m.type === 'WorkflowStateChange' && m.body.caseRef === ref);

  async function openAccepted(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await police.send('CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: `case ${i}`, subject: person, consentRecorded: true }, { to: 'xa-ngo-harbour' });
      ids.push(r.id);
    }
    await until(() => ids.every((id) => notices(ngoInbox, `case-referral.${id}`).length >= 1), 20_000, 'referrals registered');
    await Promise.all(ids.map((id) => ngo.send('ReferralDecision', { referralId: id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' }, { to: 'xa-border-police' })));
    await until(() => ids.every((id) => notices(ngoInbox, `case-referral.${id}`).length >= 2), 20_000, 'referrals accepted');
    return ids;
  }

  it('SIGKILL in the middle of a burst: after a restart every acknowledged transition is applied exactly once, every notice sent exactly once', async () => {
    const dir = fed.agencyDirs['mac-cases']!;
    children.push(await engineProcess(dir));
    const cases = await openAccepted(10);
    const PER_CASE = 12;
    const burst: { id: string; ref: string }[] = [];
    const sending = (async () => {
      for (let k = 0; k < PER_CASE; k++) {
        const sent = await Promise.all(
          cases.map((id) => ngo.send('ReferralUpdate', { referralId: id, status: 'REFERRAL_STATUS_ASSISTANCE_PROVIDED', note: `update ${k}` }, { to: 'xa-border-police' })),
        );
        sent.forEach((s, i) => burst.push({ id: s.id, ref: `case-referral.${cases[i]}` }));
      }
    })();
    // Kill the engine once part of the burst is applied (and published), not all of it.
    const applied = () => burst.filter((b) => ngoInbox.some((m) => m.body.causeMessageId === b.id)).length;
    await until(() => applied() >= 15, 20_000, 'part of the burst applied');
    children[0]!.kill('SIGKILL');
    await new Promise((r) => children[0]!.once('exit', r));
    await sending;
    const appliedAtKill = applied();
    expect(appliedAtKill).toBeLessThan(cases.length * PER_CASE);

    children.push(await engineProcess(dir));
    await until(() => applied() === cases.length * PER_CASE, 30_000, 'the whole burst applied after restart');
    for (const id of cases) {
      const ref = `case-referral.${id}`;
      const shown = await police.request('CaseQuery', { caseRef: ref });
      const timeline = (shown.body.cases as Record<string, unknown>[])[0]!.timeline as Record<string, unknown>[];
      const updates = timeline.filter((s) => s.transition === 'update').map((s) => s.messageId);
      const mine = burst.filter((b) => b.ref === ref).map((b) => b.id);
      // Every update exactly once, in the order the exchange received them.
      expect(updates).toEqual(mine);
      expect(timeline).toHaveLength(2 + PER_CASE);
      // Each party got exactly one state change per transition: no notice lost, none doubled.
      for (const inbox of [policeInbox, ngoInbox]) {
        const causes = notices(inbox, ref).map((m) => m.body.causeMessageId);
        expect(causes).toHaveLength(2 + PER_CASE);
        expect(new Set(causes).size).toBe(causes.length);
      }
    }
    expect(police.stats.duplicates + ngo.stats.duplicates).toBe(0);
    expect(policeInbox.filter((m) => m.type === 'WorkflowRejection')).toEqual([]);

    // `liaison case list` / `case show` as a party.
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    expect(await runCli(['case', 'list', '--as', fed.agencyDirs['xa-border-police']!, '--state', 'in-progress'], io)).toBe(0);
    expect(out.filter((l) => l.startsWith('case-referral.'))).toHaveLength(cases.length);
    out.length = 0;
    expect(await runCli(['case', 'show', '--as', fed.agencyDirs['xa-ngo-harbour']!, `case-referral.${cases[0]}`], io)).toBe(0);
    expect(out[0]).toContain('state in-progress');
    expect(out.filter((l) => l.includes(' update ')).length).toBe(PER_CASE);
    expect(out.join('\n')).toContain(`key ${ngo.identity.key.kid}`);
    // The opening step has no state before it: shown as ∅, never as "undefined" (issue 14).
    expect(out.join('\n')).toMatch(/ ∅ → referred /);
    expect(out.join('\n')).not.toContain('undefined');
    out.length = 0;
    expect(await runCli(['case', 'show', '--as', fed.agencyDirs['mac-centre']!, `case-referral.${cases[0]}`], io)).toBe(1);
    expect(out.join('\n')).toContain('not a party');
  }, 90_000);

  it('two replicas running at once: shared consumers and bucket, one outcome per transition, one reminder per deadline', async () => {
    const clock = new ManualClock();
    const replicas: Workflows[] = [];
    for (let i = 0; i < 2; i++) replicas.push(await startWorkflows({ client: await fed.connect('mac-cases'), clock, tickMs: 0 }));
    try {
      const cases = await openAccepted(6);
      const sent = await Promise.all(
        cases.flatMap((id) => [1, 2, 3].map((k) => ngo.send('ReferralUpdate', { referralId: id, status: 'REFERRAL_STATUS_IN_PROGRESS', note: `r${k}` }, { to: 'xa-border-police' }))),
      );
      await until(() => sent.every((s) => ngoInbox.some((m) => m.body.causeMessageId === s.id)), 20_000, 'updates applied');
      // Both replicas did work, and their views converge on the same cases.
      expect(replicas.every((r) => r.stats.applied > 0)).toBe(true);
      const view = (r: Workflows) =>
        JSON.stringify(
          r
            .cases()
            .filter((c) => cases.some((id) => c.ref.endsWith(id)))
            .sort((a, b) => a.ref.localeCompare(b.ref))
            .map((c) => [c.ref, c.state, c.timeline.map((s) => s.messageId)]),
        );
      await until(() => view(replicas[0]!) === view(replicas[1]!), 5_000, 'replica mirrors to converge');
      for (const id of cases) {
        const ref = `case-referral.${id}`;
        expect(new Set(notices(policeInbox, ref).map((m) => m.body.causeMessageId)).size).toBe(notices(policeInbox, ref).length);
      }
      // A deadline passes: both replicas tick at once; the party is reminded once.
      const reminders = () => ngoInbox.filter((m) => m.type === 'WorkflowReminder' && cases.some((id) => m.body.caseRef === `case-referral.${id}`)).length;
      await ngo.consume((m) => void ngoInbox.push(m), { types: ['WorkflowReminder'] });
      clock.advance(31 * 86_400_000);
      await Promise.all(replicas.map((r) => r.tick()));
      await Promise.all(replicas.map((r) => r.tick()));
      await until(() => reminders() >= cases.length, 10_000, 'reminders');
      await new Promise((r) => setTimeout(r, 300));
      expect(reminders()).toBe(cases.length);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  }, 60_000);
});
