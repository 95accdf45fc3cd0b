/**
 * `npm run bench` — does the multiagency centre (¶17) keep up with what the exchange core can deliver
 * to it (issue 13)? In one run, on one machine:
 *   (a)  the core's signed end-to-end rate to one receiver with a no-op handler, from a stored backlog
 *        (a directed IntelligenceReport per message, as exchange.bench.ts (d3));
 *   (a') the core delivering the centre's own mixed load (centre-load-worker.ts) to the centre's agency,
 *        every consumer it has, with a no-op handler, from a stored backlog;
 *   (b)  the centre over the same mixed load from a stored backlog: messages fully processed per second
 *        (extraction, correlation records in KV, alerts sent, facts written, handled record, ack);
 *   (c)  the centre at a steady offered rate (the soak's): processed per second while offered, the backlog
 *        left when the offer stops, and how long it takes to clear.
 * Ratios (b)/(a') and (b)/(a), target 1.0. Senders run in a worker thread, the centre in this thread.
 * Bounded: fixed counts, every wait has a deadline (a centre too slow to finish is reported as the rate
 * it reached, not a crash), loopback only, the server stopped at the end.
 * Profile: `BENCH_CENTRE_ONLY=b node --cpu-prof test/bench/centre.bench.ts`.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { startCentre, type Centre } from '../../services/centre/index.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import type { CentreLoadJob } from './centre-load-worker.ts';
import { LOAD_SENDERS } from './centre-load-worker.ts';
import { liaisonRate, withTimeout } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';

const N_CORE = Number(process.env.BENCH_CENTRE_CORE ?? 3_000);
const N_BACKLOG = Number(process.env.BENCH_CENTRE_N ?? 2_000);
const STEADY_RATE = Number(process.env.BENCH_CENTRE_RATE ?? 150);
const STEADY_SECONDS = Number(process.env.BENCH_CENTRE_SECONDS ?? 15);
/** The longest wait for one drain; past it the rate reached so far is the figure. */
const DRAIN_LIMIT_MS = Number(process.env.BENCH_CENTRE_DRAIN_MS ?? 90_000);
const CENTRE = 'mac-centre';
const AGENCIES = [CENTRE, ...LOAD_SENDERS];

/** Send `count` messages of the mix from a worker thread (paced at `rate` when given). */
function offer(fed: TestFederation, count: number, seed: number, rate?: number): Promise<{ sent: number; seconds: number }> {
  const job: CentreLoadJob = { agencyDirs: fed.agencyDirs, url: fed.server.url, centre: CENTRE, count, rate, seed };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./centre-load-worker.ts', import.meta.url), { workerData: job });
    w.once('message', (m: { error?: string; sent: number; seconds: number }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

/** Poll `count()` until it reaches `target` or `limitMs` passes; the count and the seconds since `t0`. */
async function drained(count: () => number, target: number, t0: number, limitMs: number): Promise<{ done: number; seconds: number; complete: boolean }> {
  const end = performance.now() + limitMs;
  while (count() < target && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  return { done: Math.min(count(), target), seconds: (performance.now() - t0) / 1000, complete: count() >= target };
}

/** (a'): the core delivering a backlog of the mix to the centre's agency, every consumer, no-op handler. */
async function coreToCentre(fed: TestFederation): Promise<number> {
  await withTimeout(offer(fed, N_BACKLOG, 1), 300_000, 'offer (a\')');
  const receiver = await fed.connect(CENTRE);
  let got = 0;
  let t0 = 0;
  await receiver.consume(() => {
    if (got++ === 0) t0 = performance.now();
  });
  const r = await drained(() => got, N_BACKLOG, performance.now(), DRAIN_LIMIT_MS);
  await receiver.close();
  return r.done / ((performance.now() - t0) / 1000 || r.seconds);
}

/** A centre on a fresh connection of the centre's agency, as `liaison centre up` runs it. */
async function runCentre(fed: TestFederation): Promise<{ centre: Centre; client: LiaisonClient; handled: () => number }> {
  const client = await fed.connect(CENTRE);
  const centre = await startCentre({ client, reportEveryMs: 0 });
  return { centre, client, handled: () => centre.stats.processed + centre.stats.replayed };
}

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: AGENCIES, name: 'bench-centre' });
  const only = process.env.BENCH_CENTRE_ONLY;
  try {
    console.log(`# multiagency centre benchmark — ${os.cpus().length} cores, Node ${process.version}, nats-server ${fed.server.runtime}`);
    let a = NaN;
    let a2 = NaN;
    if (!only) {
      const core = await liaisonRate(fed, {
        sender: 'xa-coast-guard',
        receiver: CENTRE,
        count: N_CORE,
        type: 'IntelligenceReport',
        to: CENTRE,
        body: { summary: 'Fishing vessel intercepted with 61 persons on board.', vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456' }, migrantsCount: 61 },
        stampField: 'assessment',
        backlog: true,
      });
      a = core.rate;
      console.log(`(a)  core, signed end to end from a backlog, no-op handler: ${a.toFixed(0)} msg/s (${N_CORE} directed IntelligenceReport)`);
      a2 = await coreToCentre(fed);
      console.log(`(a') core delivering the centre's mixed load, no-op handler: ${a2.toFixed(0)} msg/s (${N_BACKLOG} messages, every consumer of ${CENTRE})`);
    }

    await withTimeout(offer(fed, N_BACKLOG, 2), 300_000, 'offer (b)');
    const run = await runCentre(fed);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const b = await drained(run.handled, N_BACKLOG, t0, DRAIN_LIMIT_MS);
    const cpu = process.cpuUsage(cpu0);
    const bRate = b.done / b.seconds;
    const s = run.centre.stats;
    console.log(
      `(b)  centre from a backlog: ${bRate.toFixed(0)} msg/s (${b.done}/${N_BACKLOG} processed in ${b.seconds.toFixed(1)} s${b.complete ? '' : ', NOT finished'}); ` +
        `${((cpu.user + cpu.system) / Math.max(1, b.done)).toFixed(0)} µs CPU per message; ${s.occurrences} occurrences, ${s.alerts} alerts sent`,
    );
    if (only !== 'b') {
      const before = run.handled();
      const offered = offer(fed, STEADY_RATE * STEADY_SECONDS, 3, STEADY_RATE);
      const t1 = performance.now();
      const sent = await withTimeout(offered, STEADY_SECONDS * 1000 + 120_000, 'offer (c)');
      const during = run.handled() - before;
      const window = (performance.now() - t1) / 1000;
      const backlog = sent.sent - during;
      const t2 = performance.now();
      const c = await drained(() => run.handled() - before, sent.sent, t2, DRAIN_LIMIT_MS);
      console.log(
        `(c)  centre at a steady ${STEADY_RATE} msg/s offered for ${STEADY_SECONDS} s (sent at ${(sent.sent / sent.seconds).toFixed(0)} msg/s): ` +
          `${(during / window).toFixed(0)} msg/s processed while offered, backlog ${backlog} when the offer stopped, cleared in ${c.seconds.toFixed(1)} s${c.complete ? '' : ' (NOT cleared)'}`,
      );
    }
    await run.centre.stop();
    await run.client.close();
    console.log('');
    const line = (label: string, v: number) => console.log(`${label.padEnd(48)} ${v.toFixed(3).padStart(7)}   target ≥ 1.00  ${v >= 1 ? 'MET' : 'NOT MET'}`);
    if (!only) {
      line("ratio (b)/(a') centre vs core, same mixed load", bRate / a2);
      line('ratio (b)/(a)  centre vs core signed end to end', bRate / a);
    }
    const mem = process.memoryUsage();
    console.log(`memory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await fed.stop();
  }
}

runBounded('centre', 900_000, main);
