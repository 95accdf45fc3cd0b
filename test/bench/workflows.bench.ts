/**
 * `npm run bench` — the case registry (issue 4), end to end over a real nats-server:
 *   (a) baseline: the exchange core's signed-message rate in this run (one directed IntelligenceReport
 *       per message, sender and receiver in this process, a window of messages in flight);
 *   (b) workflow transitions per second, closed loop: a party sends a signed ReferralUpdate → the case
 *       registry (its own process, `liaison workflows up`) verifies it, applies it to the case in KV
 *       (compare-and-set), signs and publishes the state change to both parties → the state change is
 *       verified at the other party. Reported as a ratio to (a);
 *   (c) p50/p99 of that end-to-end latency at a steady rate.
 * Bounded: fixed counts, timeouts, loopback only; the server and the registry process are stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { createTestFederation } from '../support/federation.ts';
import { until, workflowPolicyText } from '../support/workflows.ts';
import { runBounded } from './run-bounded.ts';

const N_BASE = Number(process.env.BENCH_WF_BASE ?? 5_000);
const CASES = Number(process.env.BENCH_WF_CASES ?? 200);
const N_TRANSITIONS = Number(process.env.BENCH_WF_N ?? 2_000);
const WINDOW = 32;
const STEADY_RATE = Number(process.env.BENCH_WF_RATE ?? 100);
const STEADY_SECONDS = Number(process.env.BENCH_WF_SECONDS ?? 10);
const ROOT = join(import.meta.dirname, '../..');

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;

async function engine(dir: string): Promise<ChildProcess> {
  const child = spawn(join(ROOT, 'node_modules/.bin/node'), ['services/cli/main.ts', 'workflows', 'up', '--as', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => out.includes('case registry up'), 30_000, 'case registry process');
  return child;
}

/** Run `count` sends with at most `window` outstanding; `settled(i)` resolves when item i completed. */
async function windowed(count: number, window: number, start: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await start(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}

async function baseline(from: LiaisonClient, to: LiaisonClient): Promise<number> {
  const waiting = new Map<string, () => void>();
  await to.consume((m) => waiting.get(m.header.id)?.(), { types: ['IntelligenceReport'] });
  const body = { summary: 'Vessel sighted 12 nm off Port Xandria, heading north-east.', vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456', flagState: 'XBB' } };
  const t0 = performance.now();
  await windowed(N_BASE, WINDOW, async () => {
    const sealed = from.seal('IntelligenceReport', body, { to: to.id });
    const got = new Promise<void>((r) => waiting.set(sealed.id, r));
    await from.publishSealed(sealed);
    await got;
    waiting.delete(sealed.id);
  });
  return N_BASE / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: ['mac-cases', 'xa-border-police', 'xa-ngo-harbour', 'xa-coast-guard'], name: 'bench-wf', policyText: await workflowPolicyText() });
  let child: ChildProcess | undefined;
  try {
    const police = await fed.connect('xa-border-police');
    const ngo = await fed.connect('xa-ngo-harbour');
    const coast = await fed.connect('xa-coast-guard');
    console.log(`# case registry benchmark — ${os.cpus().length} cores, Node ${process.version}, nats-server ${fed.server.runtime}`);

    const base = await baseline(coast, police);
    console.log(`(a) exchange core, signed directed messages end to end (window ${WINDOW}): ${base.toFixed(0)} msg/s`);

    child = await engine(fed.agencyDirs['mac-cases']!);
    const arrived = new Map<string, () => void>();
    await police.consume((m) => {
      if (m.type === 'WorkflowStateChange') arrived.get(String(m.body.causeMessageId))?.();
    }, { types: ['WorkflowStateChange'] });
    await ngo.consume(() => undefined, { types: ['WorkflowStateChange'] });
    const transition = async (type: string, body: Record<string, unknown>, to: string, sender: LiaisonClient) => {
      const sealed = sender.seal(type, body, { to });
      const got = new Promise<void>((r) => arrived.set(sealed.id, r));
      const t = performance.now();
      await sender.publishSealed(sealed);
      await got;
      arrived.delete(sealed.id);
      return performance.now() - t;
    };

    const cases: string[] = [];
    await windowed(CASES, 8, async () => {
      const sealed = police.seal('CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'bench', consentRecorded: true }, { to: 'xa-ngo-harbour' });
      const got = new Promise<void>((r) => arrived.set(sealed.id, r));
      await police.publishSealed(sealed);
      await got;
      cases.push(sealed.id);
      await transition('ReferralDecision', { referralId: sealed.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' }, 'xa-border-police', ngo);
    });
    console.log(`    setup: ${CASES} protection referrals opened and accepted`);

    const t0 = performance.now();
    await windowed(N_TRANSITIONS, WINDOW, async (i) => {
      await transition('ReferralUpdate', { referralId: cases[i % cases.length], status: 'REFERRAL_STATUS_IN_PROGRESS', note: `u${i}` }, 'xa-border-police', ngo);
    });
    const rate = N_TRANSITIONS / ((performance.now() - t0) / 1000);
    console.log(`(b) workflow transitions end to end, closed loop (window ${WINDOW}): ${rate.toFixed(0)}/s = ${(rate / base).toFixed(3)} × (a)`);
    console.log(`    each: 2 signed copies in (party's tier + the registry's), 1 verify, the case read from the in-memory mirror, 2 KV compare-and-set writes (the transition with its outbox, the outbox cleared), 2 signed notices out; one message per type at a time (strict order)`);

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
    child?.kill('SIGTERM');
    await fed.stop();
  }
}

runBounded('workflows', 300_000, main);
