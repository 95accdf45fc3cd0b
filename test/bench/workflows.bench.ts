/**
 * `npm run bench` — the case registry (issues 4, 13), end to end over a real nats-server:
 *   (a) baseline: the exchange core's signed end-to-end rate in this run (liaison-rate.ts: a publisher
 *       in a worker thread, one verifying receiver with a no-op handler; the figure the exchange bench
 *       reports as (d));
 *   (b) workflow transitions per second, closed loop: a party sends a signed ReferralUpdate → the case
 *       registry (its own process, `liaison workflows up`) verifies it, applies it to the case in KV
 *       (compare-and-set), signs and publishes the state change to both parties → the state change is
 *       verified at the other party. Reported as a ratio to (a);
 *   (c) p50/p99 of that end-to-end latency at a steady rate;
 *   (d) referral + acceptance transitions per second from a stored backlog: the registry is stopped,
 *       CaseReferrals and their ReferralDecisions (accepted) are stored, the registry is started and
 *       timed until every case is accepted (both parties told). Ratio to (a);
 *   (e) the same pair at a steady offered rate (the acceptance sent when the referral's notice
 *       arrives, as a party does): transitions/s kept up with, backlog when the offer stops, p50/p99 of
 *       referral sent → acceptance notice. Ratio to (a).
 * Bounded: fixed counts, timeouts, loopback only; the server and the registry process are stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../../services/sdk/envelope/open.ts';
import { createTestFederation } from '../support/federation.ts';
import { until, workflowPolicyText } from '../support/workflows.ts';
import { liaisonRate } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';

const N_BASE = Number(process.env.BENCH_WF_BASE ?? 5_000);
const CASES = Number(process.env.BENCH_WF_CASES ?? 200);
const N_TRANSITIONS = Number(process.env.BENCH_WF_N ?? 2_000);
const WINDOW = 32;
const STEADY_RATE = Number(process.env.BENCH_WF_RATE ?? 100);
const STEADY_SECONDS = Number(process.env.BENCH_WF_SECONDS ?? 10);
/** (d): referrals stored (each with its acceptance) while the registry is down. */
const N_BACKLOG = Number(process.env.BENCH_WF_BACKLOG ?? 500);
/** (e): referrals offered per second (each followed by its acceptance), and for how long. */
const PAIR_RATE = Number(process.env.BENCH_WF_PAIR_RATE ?? 40);
const PAIR_SECONDS = Number(process.env.BENCH_WF_PAIR_SECONDS ?? 10);
/** How long (d) and (e) wait for the registry to finish before reporting what it did. */
const DRAIN_LIMIT_MS = 90_000;
const ROOT = join(import.meta.dirname, '../..');

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
const referral = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'bench', consentRecorded: true };
const accept = (referralId: string) => ({ referralId, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' });

async function engine(dir: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(join(ROOT, 'node_modules/.bin/node'), ['services/cli/main.ts', 'workflows', 'up', '--as', dir, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => out.includes('case registry up'), 30_000, 'case registry process');
  return child;
}

/** CPU time a process has used so far, in µs (/proc; NaN where there is none). */
function cpuUs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}

/** Stop the registry process (SIGTERM) and wait for it to exit. */
async function stopEngine(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await exited;
}

/** Run `count` sends with at most `window` outstanding. */
async function windowed(count: number, window: number, start: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await start(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}

/** The state changes the requesting party receives, by the message that caused them and by the state reached. */
class Notices {
  readonly byCause = new Map<string, () => void>();
  readonly reached = new Map<string, Set<string>>();
  onReached: ((caseRef: string, state: string) => void) | undefined;
  take = (m: ReceivedMessage): void => {
    if (m.type !== 'WorkflowStateChange') return;
    this.byCause.get(String(m.body.causeMessageId))?.();
    const state = String(m.body.toState);
    const set = this.reached.get(state) ?? new Set<string>();
    set.add(String(m.body.caseRef));
    this.reached.set(state, set);
    this.onReached?.(String(m.body.caseRef), state);
  };
  count(state: string, refs: readonly string[]): number {
    const set = this.reached.get(state);
    return set ? refs.filter((r) => set.has(r)).length : 0;
  }
}

/** (d): the registry down, `n` referrals and their acceptances stored, then the registry started and timed. */
async function backlog(police: LiaisonClient, ngo: LiaisonClient, notices: Notices, dir: string, n: number, extra: string[]) {
  const refs: string[] = [];
  await windowed(n, WINDOW, async () => {
    const sealed = police.seal('CaseReferral', referral, { to: 'xa-ngo-harbour' });
    await police.publishSealed(sealed);
    refs.push(`case-referral.${sealed.id}`);
    await ngo.send('ReferralDecision', accept(sealed.id), { to: 'xa-border-police' });
  });
  const t0 = performance.now();
  const child = await engine(dir, extra);
  const cpu0 = cpuUs(child.pid);
  const finished = () => notices.count('referred', refs) + notices.count('accepted', refs);
  await until(() => finished() === 2 * n, DRAIN_LIMIT_MS, 'backlog drained').catch(() => undefined);
  const seconds = (performance.now() - t0) / 1000;
  return { rate: finished() / seconds, seconds, done: finished(), child, cpuPerTransitionMs: (cpuUs(child.pid) - cpu0) / 1000 / Math.max(1, finished()) };
}

/** (e): `rate` referrals/s for `seconds`, each accepted by the party when its notice arrives. */
async function offered(police: LiaisonClient, ngo: LiaisonClient, notices: Notices, rate: number, seconds: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  notices.onReached = (ref, state) => {
    const t = sentAt.get(ref);
    if (t === undefined) return;
    if (state === 'referred') void ngo.send('ReferralDecision', accept(ref.slice('case-referral.'.length)), { to: 'xa-border-police' }).catch((err: unknown) => console.error('acceptance not sent', err));
    if (state === 'accepted') latencies.push(performance.now() - t);
  };
  const total = Math.round(rate * seconds);
  const refs: string[] = [];
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sealed = police.seal('CaseReferral', referral, { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${sealed.id}`;
    sentAt.set(ref, performance.now());
    refs.push(ref);
    sends.push(police.publishSealed(sealed));
  }
  await Promise.all(sends);
  const offerEnd = performance.now();
  const doneAtOfferEnd = notices.count('referred', refs) + notices.count('accepted', refs);
  const finished = () => notices.count('referred', refs) + notices.count('accepted', refs);
  await until(() => finished() === 2 * total, DRAIN_LIMIT_MS, 'offered load drained').catch(() => undefined);
  const allSeconds = (performance.now() - start) / 1000;
  notices.onReached = undefined;
  latencies.sort((a, b) => a - b);
  return {
    offered: (2 * total) / ((offerEnd - start) / 1000),
    kept: finished() / allSeconds,
    backlogAtOfferEnd: 2 * total - doneAtOfferEnd,
    done: finished(),
    total: 2 * total,
    drainSeconds: (performance.now() - offerEnd) / 1000,
    latencies,
  };
}

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: ['mac-cases', 'xa-border-police', 'xa-ngo-harbour', 'xa-coast-guard'], name: 'bench-wf', policyText: await workflowPolicyText() });
  let child: ChildProcess | undefined;
  try {
    console.log(`# case registry benchmark — ${os.cpus().length} cores, Node ${process.version}, nats-server ${fed.server.runtime}`);
    const core = await liaisonRate(fed, {
      sender: 'xa-coast-guard',
      receiver: 'xa-border-police',
      count: N_BASE,
      type: 'IntelligenceReport',
      to: 'xa-border-police',
      body: { summary: 'Vessel sighted 12 nm off Port Xandria, heading north-east.', vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456', flagState: 'XBB' } },
      stampField: 'recommendedAction',
    });
    const base = core.rate;
    console.log(`(a) exchange core, signed directed messages end to end (liaison-rate.ts, publisher in a worker): ${base.toFixed(0)} msg/s`);

    const police = await fed.connect('xa-border-police');
    const ngo = await fed.connect('xa-ngo-harbour');
    const notices = new Notices();
    await police.consume(notices.take, { types: ['WorkflowStateChange'] });
    await ngo.consume(() => undefined, { types: ['WorkflowStateChange'] });
    const dir = fed.agencyDirs['mac-cases']!;

    // (d) and (e) twice in this run: one message at a time per consumer (as before issue 13), then partitioned by case.
    for (const [label, extra] of [
      ['one at a time (--concurrency 1)', ['--concurrency', '1']],
      ['partitioned by case (default)', []],
    ] as const) {
      if (child) await stopEngine(child);
      const d = await backlog(police, ngo, notices, dir, N_BACKLOG, [...extra]);
      child = d.child;
      console.log(
        `(d) ${label}: referral + acceptance from a stored backlog of ${N_BACKLOG} pairs: ${d.rate.toFixed(0)} transitions/s = ${(d.rate / base).toFixed(3)} × (a)` +
          ` (${d.done} of ${2 * N_BACKLOG} in ${d.seconds.toFixed(1)} s, registry start included; registry CPU ${d.cpuPerTransitionMs.toFixed(2)} ms per transition)`,
      );
      const cpu0 = cpuUs(child.pid);
      const e = await offered(police, ngo, notices, PAIR_RATE, PAIR_SECONDS);
      console.log(
        `(e) ${label}: referral + acceptance offered at ${e.offered.toFixed(0)} transitions/s for ${PAIR_SECONDS} s: kept up with ${e.kept.toFixed(0)}/s = ${(e.kept / base).toFixed(3)} × (a);` +
          ` backlog when the offer stopped ${e.backlogAtOfferEnd}, drained in ${e.drainSeconds.toFixed(1)} s (${e.done} of ${e.total});` +
          ` referral → acceptance notice p50 ${pct(e.latencies, 50).toFixed(0)} ms, p99 ${pct(e.latencies, 99).toFixed(0)} ms; registry CPU ${((cpuUs(child.pid) - cpu0) / 1000 / Math.max(1, e.done)).toFixed(2)} ms per transition`,
      );
    }

    const transition = async (type: string, body: Record<string, unknown>, to: string, sender: LiaisonClient) => {
      const sealed = sender.seal(type, body, { to });
      const got = new Promise<void>((r) => notices.byCause.set(sealed.id, r));
      const t = performance.now();
      await sender.publishSealed(sealed);
      await got;
      notices.byCause.delete(sealed.id);
      return performance.now() - t;
    };

    const cases: string[] = [];
    await windowed(CASES, 8, async () => {
      const sealed = police.seal('CaseReferral', referral, { to: 'xa-ngo-harbour' });
      const got = new Promise<void>((r) => notices.byCause.set(sealed.id, r));
      await police.publishSealed(sealed);
      await got;
      cases.push(sealed.id);
      await transition('ReferralDecision', accept(sealed.id), 'xa-border-police', ngo);
    });
    console.log(`    setup: ${CASES} protection referrals opened and accepted`);

    const t0 = performance.now();
    await windowed(N_TRANSITIONS, WINDOW, async (i) => {
      await transition('ReferralUpdate', { referralId: cases[i % cases.length], status: 'REFERRAL_STATUS_IN_PROGRESS', note: `u${i}` }, 'xa-border-police', ngo);
    });
    const rate = N_TRANSITIONS / ((performance.now() - t0) / 1000);
    console.log(`(b) workflow transitions end to end, closed loop (window ${WINDOW}): ${rate.toFixed(0)}/s = ${(rate / base).toFixed(3)} × (a)`);
    console.log(`    each: 2 signed copies in (party's tier + the registry's), 1 verify, the case read from the in-memory mirror, 2 KV compare-and-set writes (the transition with its outbox, the outbox cleared), 2 signed notices out`);

    const lat: number[] = [];
    const total = STEADY_RATE * STEADY_SECONDS;
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / STEADY_RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(transition('ReferralUpdate', { referralId: cases[i % cases.length], status: 'REFERRAL_STATUS_IN_PROGRESS', note: `s${i}` }, 'xa-border-police', ngo).then((ms) => void lat.push(ms)));
    }
    await Promise.all(pending);
    lat.sort((a, b) => a - b);
    console.log(`(c) steady ${STEADY_RATE} transitions/s for ${STEADY_SECONDS} s: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${lat.at(-1)!.toFixed(1)} ms`);
  } finally {
    if (child) await stopEngine(child);
    await fed.stop();
  }
}

runBounded('workflows', 480_000, main);
