/**
 * `npm run bench` — does the multiagency centre (¶17) keep up with what the exchange core can deliver
 * to it (issue 13)? In one run, on one machine:
 *   (a)  the core's signed end-to-end rate to one receiver with a no-op handler, from a stored backlog
 *        (a directed IntelligenceReport per message, as exchange.bench.ts (d3));
 *   (a') the core delivering the centre's own mixed load (centre-load-worker.ts) to the centre's agency,
 *        every consumer it has, with a no-op handler, from a stored backlog;
 *   (b)  the centre over the same mixed load from a stored backlog: messages fully processed per second
 *        (extraction, correlation records in KV, alerts sent, facts written, handled record, ack);
 *   (c') the core delivering the mix at a steady offered rate (the soak's) to a no-op handler, and
 *   (c)  the centre at that rate: processed per second while offered, the backlog left when the offer
 *        stops, and how long it takes to clear.
 * Ratios (b)/(a'), (b)/(a) and (c)/(c'), target 1.0. Senders run in a worker thread, the centre (and the no-op
 * receiver of (a')) in another (centre-worker.ts), the exchange's own services in this one.
 * Bounded: fixed counts, every wait has a deadline (a centre too slow to finish is reported as the rate
 * it reached, not a crash), loopback only, the server stopped at the end.
 * Profile: `BENCH_CENTRE_ONLY=b node --cpu-prof test/bench/centre.bench.ts`; the drains alone: `BENCH_CENTRE_ONLY=ab`.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import type { CentreLoadJob } from './centre-load-worker.ts';
import type { CentreWorkerJob, CentreWorkerReport } from './centre-worker.ts';
import { LOAD_SENDERS } from './centre-load-worker.ts';
import { liaisonRate, serverCpuUs, withTimeout } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';

const N_CORE = Number(process.env.BENCH_CENTRE_CORE ?? 3_000);
const N_BACKLOG = Number(process.env.BENCH_CENTRE_N ?? 2_000);
const STEADY_RATE = Number(process.env.BENCH_CENTRE_RATE ?? 150);
const STEADY_SECONDS = Number(process.env.BENCH_CENTRE_SECONDS ?? 15);
/** The longest wait for one drain; past it the rate reached so far is the figure. */
const DRAIN_LIMIT_MS = Number(process.env.BENCH_CENTRE_DRAIN_MS ?? 90_000);
/** Rounds of (a), (a'), (b), alternated so each sees the same machine load; medians are reported. */
const ROUNDS = Number(process.env.BENCH_CENTRE_ROUNDS ?? 1);
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

/** A receiver in its worker thread (centre-worker.ts): its latest count, and a stop that returns its final report. */
interface Receiver {
  handled(): number;
  cpuUs(): number;
  stop(): Promise<CentreWorkerReport>;
}

async function startReceiver(fed: TestFederation, mode: CentreWorkerJob['mode']): Promise<Receiver> {
  const job: CentreWorkerJob = { mode, agencyDir: fed.agencyDirs[CENTRE]!, url: fed.server.url };
  const w = new Worker(new URL('./centre-worker.ts', import.meta.url), { workerData: job });
  let last: CentreWorkerReport = { handled: 0, cpuUs: 0 };
  let final: ((r: CentreWorkerReport) => void) | undefined;
  let failed: Error | undefined;
  w.on('message', (r: CentreWorkerReport) => {
    if (r.error) failed = new Error(r.error);
    last = r;
    if (r.final) final?.(r);
  });
  w.on('error', (err: Error) => (failed = err));
  await new Promise<void>((resolve, reject) => {
    const started = (r: CentreWorkerReport) => (r.error ? reject(new Error(r.error)) : resolve());
    w.once('message', started);
    w.once('error', reject);
  });
  return {
    handled: () => {
      if (failed) throw failed;
      return last.handled;
    },
    cpuUs: () => last.cpuUs,
    async stop() {
      const done = new Promise<CentreWorkerReport>((r) => (final = r));
      w.postMessage('stop');
      const r = await withTimeout(done, 15_000, `${mode} receiver stop`);
      await w.terminate();
      return r;
    },
  };
}

/** Poll `count()` until it reaches `target` or `limitMs` passes; the count and the seconds since `t0`. */
async function drained(count: () => number, target: number, t0: number, limitMs: number): Promise<{ done: number; seconds: number; complete: boolean }> {
  const end = performance.now() + limitMs;
  while (count() < target && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  return { done: Math.min(count(), target), seconds: (performance.now() - t0) / 1000, complete: count() >= target };
}

/** CPU µs per message of a drain: the receiver's thread, this whole process (every thread: the receiver, its crypto threads, the exchange's services) and nats-server. */
interface DrainCpu {
  thread: number;
  process: number;
  server: number;
}

/**
 * A stored backlog of the mix drained by a receiver in its worker: messages per second, and the CPU it took per
 * message (the machine's two cores are shared by all of it: what the drain costs in all is what bounds its rate).
 */
async function fromBacklog(fed: TestFederation, mode: CentreWorkerJob['mode'], seed: number): Promise<{ rate: number; cpu: DrainCpu; complete: boolean; receiver: Receiver }> {
  await withTimeout(offer(fed, N_BACKLOG, seed), 300_000, `offer (${mode})`);
  const receiver = await startReceiver(fed, mode);
  // Timed from the first message handled (start-up, connection and consumer set-up are not the rate).
  await drained(receiver.handled, 1, performance.now(), DRAIN_LIMIT_MS);
  const t0 = performance.now();
  const h0 = receiver.handled();
  const cpu0 = receiver.cpuUs();
  const p0 = process.cpuUsage();
  const s0 = serverCpuUs(fed);
  const r = await drained(receiver.handled, N_BACKLOG, t0, DRAIN_LIMIT_MS);
  const n = Math.max(1, r.done - h0);
  const p = process.cpuUsage(p0);
  const cpu = { thread: (receiver.cpuUs() - cpu0) / n, process: (p.user + p.system) / n, server: (serverCpuUs(fed) - s0) / n };
  return { rate: (r.done - h0) / r.seconds, cpu, complete: r.complete, receiver };
}

/** A running receiver at a steady offered rate: processed per second while offered (and the backlog left, the time to clear it). */
async function steady(fed: TestFederation, receiver: Receiver, label: string, seed: number): Promise<number> {
  const before = receiver.handled();
  const cpu0 = receiver.cpuUs();
  const t1 = performance.now();
  const sent = await withTimeout(offer(fed, STEADY_RATE * STEADY_SECONDS, seed, STEADY_RATE), STEADY_SECONDS * 1000 + 120_000, `offer ${label}`);
  const during = receiver.handled() - before;
  const window = (performance.now() - t1) / 1000;
  // Its thread's CPU share while offered: well below 100 % with a growing backlog means it waits on round trips, not on CPU.
  const busy = (receiver.cpuUs() - cpu0) / 1e6 / window;
  const c = await drained(() => receiver.handled() - before, sent.sent, performance.now(), DRAIN_LIMIT_MS);
  console.log(
    `${label} at a steady ${STEADY_RATE} msg/s offered for ${STEADY_SECONDS} s (sent at ${(sent.sent / sent.seconds).toFixed(0)} msg/s): ` +
      `${(during / window).toFixed(0)} msg/s processed while offered (its thread ${(busy * 100).toFixed(0)} % busy), backlog ${sent.sent - during} when the offer stopped, cleared in ${c.seconds.toFixed(1)} s${c.complete ? '' : ' (NOT cleared)'}`,
  );
  return during / window;
}

/** A centre's final counters, and its record writes per message handled (work counts: each write is its value's whole record). */
function counters(final: CentreWorkerReport): void {
  console.log(`     centre counters: ${JSON.stringify(final.stats)}`);
  const s = final.stats as { recordWrites?: number; recordKiB?: number } | undefined;
  if (s?.recordWrites !== undefined && final.handled > 0) console.log(`     record writes per message handled: ${(s.recordWrites / final.handled).toFixed(2)} (${(s.recordKiB! / final.handled).toFixed(1)} KiB)`);
}

/** A drain's CPU per message as the bench prints it. */
const cpuLine = (c: DrainCpu) => `CPU µs per message: ${c.thread.toFixed(0)} its thread, ${c.process.toFixed(0)} this process, ${c.server.toFixed(0)} nats-server`;

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: AGENCIES, name: 'bench-centre' });
  // BENCH_CENTRE_ONLY=b: the centre's drain alone (to profile it); =ab: the drains (a), (a'), (b), not the steady rate.
  const only = process.env.BENCH_CENTRE_ONLY;
  const withCore = only !== 'b';
  const atRate = !only;
  try {
    console.log(`# multiagency centre benchmark — ${os.cpus().length} cores, Node ${process.version}, nats-server ${fed.server.runtime}; ${ROUNDS} round(s), medians`);
    const a: number[] = [];
    const a2: number[] = [];
    const b: number[] = [];
    let centre: Receiver | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      if (withCore) {
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
        a.push(core.rate);
        console.log(`(a)  core, signed end to end from a backlog, no-op handler: ${core.rate.toFixed(0)} msg/s (${N_CORE} directed IntelligenceReport)`);
        const noop = await fromBacklog(fed, 'noop', 100 + round);
        await noop.receiver.stop();
        a2.push(noop.rate);
        console.log(`(a') core delivering the centre's mixed load, no-op handler: ${noop.rate.toFixed(0)} msg/s (${N_BACKLOG} messages, every consumer of ${CENTRE}; ${cpuLine(noop.cpu)})`);
      }
      await centre?.stop();
      const run = await fromBacklog(fed, 'centre', 200 + round);
      centre = run.receiver;
      b.push(run.rate);
      console.log(`(b)  centre from a backlog: ${run.rate.toFixed(0)} msg/s (${N_BACKLOG} messages${run.complete ? '' : ', NOT finished'}; ${cpuLine(run.cpu)})`);
    }
    let c = NaN;
    let c2 = NaN;
    if (atRate) {
      const final = await centre!.stop();
      counters(final);
      const noop = await startReceiver(fed, 'noop');
      c2 = await steady(fed, noop, "(c') core, no-op handler,", 300);
      await noop.stop();
      centre = await startReceiver(fed, 'centre');
      c = await steady(fed, centre, '(c)  centre', 301);
    }
    const final = await centre!.stop();
    counters(final);
    console.log('');
    const line = (label: string, v: number) => console.log(`${label.padEnd(48)} ${v.toFixed(3).padStart(7)}   target ≥ 1.00  ${v >= 1 ? 'MET' : 'NOT MET'}`);
    if (withCore) {
      line("ratio (b)/(a') centre vs core, same mixed load", median(b) / median(a2));
      line('ratio (b)/(a)  centre vs core signed end to end', median(b) / median(a));
    }
    if (atRate) line("ratio (c)/(c') centre vs core at the offered rate", c / c2);
    const mem = process.memoryUsage();
    console.log(`memory (main thread's process): rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await fed.stop();
  }
}

runBounded('centre', 900_000, main);
