/**
 * Registry service benchmark (issues 3 and 16): a registry holding REGISTRY_SERVICE_RECORDS generated document
 * records (default 10 million) answers signed document checks over a real nats-server.
 *   (r1) memory per record of the service's store (index + references), measured;
 *   (r2) checks at REGISTRY_BENCH_RATE (default 2 000/s) for REGISTRY_BENCH_SECONDS (default 10), open loop (sent on
 *        schedule whatever the answers) and closed loop (REGISTRY_BENCH_WINDOW, default 64, outstanding, paced to at
 *        most the rate): p50/p99 (target p99 < 2 ms), checks refused busy, checks not answered in
 *        REGISTRY_BENCH_TIMEOUT_MS (default 5 000) — a slow answer is a figure, never a crash;
 *        in the same run with the registry's crypto inline (0 workers) and spread over REGISTRY_BENCH_CRYPTO_WORKERS
 *        worker threads (default: one per core beyond the first, at least 1), and their ratio;
 *        REGISTRY_BENCH_PRESIGN=1 adds an open-loop run with the asker's signing and verifying outside the window;
 *        REGISTRY_BENCH_LOOPS=open|closed runs one loop only; REGISTRY_BENCH_TRACE=1 prints heap, registry counters
 *        and crypto-pool counters every second;
 *        each run also prints the event loop's CPU per check (this thread: the registry and the exchange's control
 *        plane with its audit; the asker runs in its own thread), the crypto pool's jobs per batch, and how long this
 *        process's threads and the nats-server waited for a core (Linux schedstat): on a shared machine a tail spent
 *        waiting for a core is the machine's. The heap high-water is sampled without collecting (live + garbage not
 *        yet collected): a forced full GC every 500 ms stopped the registry's event loop for 20–530 ms each time and
 *        was the 100/s run's p99 (issue 16, traced); REGISTRY_BENCH_LIVE_HEAP=1 samples the live heap that way again
 *        (for memory hunts: its pauses are in that run's latencies);
 *   (r3) the closed-loop rate's ratio to the raw Ed25519 verify rate measured here
 *        (a check costs two signatures and two verifications: request and reply);
 *   (r4) snapshot write to the agency's JetStream object store (and, for comparison, to a local file), and
 *        restart to ready from it (target < 15 s), with the longest event-loop stall while writing.
 * The asker runs in a worker thread of this process (test/bench/checker-worker.ts): on this machine its own
 * cryptography competes with the registry's for the same cores.
 * Bounded in count and time; loopback only; everything it starts it stops.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadRegistryState, registryKey, saveRegistryState } from '../../services/registry/persistence.ts';
import { fileSnapshotStore, objectSnapshotStore } from '../../services/registry/snapshot-store.ts';
import { startRegistry, type RegistryStats } from '../../services/registry/service.ts';
import { registryState } from '../../services/registry/state.ts';
import { CryptoPool } from '../../services/sdk/crypto/pool.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import type { CheckerResult } from './checker-worker.ts';
import { schedWindow } from './run-queue.ts';

const N = Number(process.env.REGISTRY_SERVICE_RECORDS ?? 10_000_000);
const RATE = Number(process.env.REGISTRY_BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.REGISTRY_BENCH_SECONDS ?? 10);
const WINDOW = Number(process.env.REGISTRY_BENCH_WINDOW ?? 64);
const TIMEOUT_MS = Number(process.env.REGISTRY_BENCH_TIMEOUT_MS ?? 5_000);
const WORKERS = Number(process.env.REGISTRY_BENCH_CRYPTO_WORKERS ?? Math.max(1, availableParallelism() - 1));
const PRESIGN = process.env.REGISTRY_BENCH_PRESIGN === '1';
/** Sample the live heap (a forced full GC each 500 ms, pausing the registry) instead of the heap as it is. */
const LIVE_HEAP = process.env.REGISTRY_BENCH_LIVE_HEAP === '1';
/** Which loops run (default both): `open`, `closed` or `open,closed`. */
const LOOPS = new Set((process.env.REGISTRY_BENCH_LOOPS ?? 'open,closed').split(','));
const NO_RUN: Figures = { p50: NaN, p99: NaN, answered: 0, busy: 0, timeouts: 0, failed: {}, rate: NaN, behindMs: 0 };
const HIT_EVERY = 100;

const gc = (globalThis as { gc?: () => void }).gc;
const used = () => {
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
const number = (i: number) => `XA${String(i).padStart(9, '0')}`;
const ms = (v: number) => (Number.isNaN(v) ? 'n/a' : `${v.toFixed(2)} ms`);

/** One checker run's figures. */
interface Figures {
  p50: number;
  p99: number;
  answered: number;
  busy: number;
  timeouts: number;
  failed: Record<string, number>;
  rate: number;
  behindMs: number;
}

function figuresOf(r: CheckerResult): Figures {
  const lat = r.lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), answered: lat.length, busy: r.busyLat.length, timeouts: r.timeouts, failed: r.failed, rate: (lat.length + r.busyLat.length) / r.seconds, behindMs: r.behindMs };
}

const describe = (f: Figures) =>
  `p50 ${ms(f.p50)}, p99 ${ms(f.p99)} (target < 2 ms); ${f.answered} answered (${f.rate.toFixed(0)}/s answered or refused), ${f.busy} refused busy, ${f.timeouts} not answered in ${TIMEOUT_MS} ms` +
  (Object.keys(f.failed).length ? `, failed ${JSON.stringify(f.failed)}` : '') +
  (f.behindMs > 100 ? `; the asker sent its last check ${(f.behindMs / 1000).toFixed(1)} s behind schedule` : '');

/** Checks through a checker worker (xb-police), its figures; a worker that fails is this run's error. */
function checks(fed: TestFederation, job: Record<string, unknown>): Promise<CheckerResult> {
  return new Promise<CheckerResult>((resolve, reject) => {
    const w = new Worker(new URL('./checker-worker.ts', import.meta.url), {
      workerData: { agencyDir: fed.agencyDirs['xb-police'], url: fed.server.url, records: N, hitEvery: HIT_EVERY, timeoutMs: TIMEOUT_MS, ...job },
    });
    w.once('message', (m: CheckerResult & { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

/** Checks each checker run sends before its window (warm-up, not in its figures, but seen by the registry). */
const WARM_UP = 200;

/**
 * The heap's high-water during a run, sampled every 500 ms: as it is (live and garbage not yet collected, an upper
 * bound of the live heap), or with REGISTRY_BENCH_LIVE_HEAP=1 and --expose-gc after a forced full GC (the live heap;
 * each GC stops the registry's event loop, and its pauses land in the run's latencies). This process holds the
 * registry AND the exchange's control plane (its audit records every check): both count.
 */
function heapHighWater(): { stop(): number } {
  let high = 0;
  const sample = () => {
    if (LIVE_HEAP) gc?.();
    high = Math.max(high, process.memoryUsage().heapUsed);
  };
  const t = setInterval(sample, 500);
  return {
    stop() {
      clearInterval(t);
      sample();
      return high;
    },
  };
}

/**
 * The registry's busy counters moved by a run, how many of the checks `sent` (after the registry settled) it saw —
 * worked on or refused: none dropped unanswered — and the run's heap high-water.
 */
const busyOf = (s: RegistryStats, before: { checks: number; busyFull: number; busyLate: number }, sent: number, highWater: number) => {
  const m = process.memoryUsage();
  gc?.();
  const live = process.memoryUsage().heapUsed;
  const seen = s.checks - before.checks + s.busyFull - before.busyFull + s.busyLate - before.busyLate;
  return (
    `registry: ${s.checks - before.checks} worked on, ${s.busyFull - before.busyFull} refused full, ${s.busyLate - before.busyLate} refused late (${seen} of ${sent} sent incl. ${WARM_UP} warm-up); ` +
    `heap high-water ${(highWater / 1e6).toFixed(0)} MB${gc && LIVE_HEAP ? ' live' : ' (not collected)'}, now ${(m.heapUsed / 1e6).toFixed(0)} MB (${(live / 1e6).toFixed(0)} MB live), rss ${(m.rss / 1e6).toFixed(0)} MB`
  );
};

/**
 * What a run cost this process's event loop (CPU per check the registry saw: the registry and the exchange's control
 * plane, not the asker's thread), how the registry's crypto pool batched its jobs, and how long this process's threads
 * and the nats-server waited for a core (the machine's share of the tail).
 */
function costWindow(fed: TestFederation, pool: CryptoPool, stats: RegistryStats): { stop(): string } {
  const cpu = () => {
    const u = process.threadCpuUsage();
    return u.user + u.system;
  };
  const seen = () => stats.checks + stats.busyFull + stats.busyLate;
  const c0 = cpu();
  const s0 = seen();
  const p0 = pool.stats();
  const sched = schedWindow({ 'this process': 'self', 'nats-server': fed.server.pid });
  return {
    stop() {
      const n = Math.max(1, seen() - s0);
      const p = pool.stats();
      const jobs = p.jobs - p0.jobs;
      const batches = p.batches - p0.batches;
      const pooled = jobs > 0 ? `, crypto pool ${jobs} jobs in ${batches} batches (${(jobs / Math.max(1, batches)).toFixed(2)} per batch)` : '';
      return `event loop ${((cpu() - c0) / n).toFixed(0)} µs CPU per check${pooled}; ${sched.stop()}`;
    },
  };
}

/**
 * Wait (at most 60 s) until the registry has taken on or refused nothing for a second: the checks an overloaded run
 * left behind (its asker gone) are worked off before the next run measures, and the next asker connects to an
 * exchange (in this process) whose event loop is free again.
 */
async function settled(stats: RegistryStats): Promise<void> {
  const seen = () => stats.checks + stats.busyFull + stats.busyLate;
  const end = Date.now() + 60_000;
  let last = -1;
  while (seen() !== last && Date.now() < end) {
    last = seen();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** (r2) open and closed loop against a registry whose client signs and verifies on `workers` threads (0: inline). */
async function loadRuns(fed: TestFederation, state: ReturnType<typeof registryState>, workers: number): Promise<{ open: Figures; closed: Figures }> {
  const ncb = await fed.connect('xc-ncb');
  const cryptoPool = CryptoPool.create({ size: workers });
  const label = workers === 0 ? 'crypto inline' : `requests verified on ${workers} worker thread(s)`;
  try {
    // The presigned run signs its requests before its window: their age is not queueing, so the wait bound is widened past it.
    const registry = await startRegistry({ client: ncb, ...state, cryptoPool, admission: PRESIGN ? { maxWaitMs: (SECONDS + 60) * 1000 } : {} });
    const trace = process.env.REGISTRY_BENCH_TRACE === '1' ? setInterval(() => console.log(`  trace: heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB, registry ${JSON.stringify(registry.stats)}, pool ${JSON.stringify(cryptoPool.stats())}`), 1_000) : undefined;
    try {
      let before = { ...registry.stats };
      let open = NO_RUN;
      if (LOOPS.has('open')) {
        const heap = heapHighWater();
        const cost = costWindow(fed, cryptoPool, registry.stats);
        const r = await checks(fed, { mode: 'open', rate: RATE, count: RATE * SECONDS });
        const spent = cost.stop();
        open = figuresOf(r);
        await settled(registry.stats);
        console.log(`(r2) ${label}, open loop ${RATE} checks/s for ${SECONDS} s (1 in ${HIT_EVERY} a hit): ${describe(open)}; ${busyOf(registry.stats, before, r.sent + WARM_UP, heap.stop())}`);
        console.log(`(r2) ${label}, open loop, cost: ${spent}`);
        const audit = fed.exchange.audit?.stats();
        // The exchange's audit of the checks (this process): its bounded request queue and what it did not record (issue 16).
        if (audit?.queries) console.log(`(r2) ${label}, the exchange's audit of the checks so far: ${audit.appended.query ?? 0} recorded, ${audit.queries.missed} counted as not recorded in ${audit.appended['queries-missed'] ?? 0} queries-missed entries; request queue high-water ${audit.queries.highWater} of ${audit.queries.maxRequests}; ${audit.restarts} writer restart(s) (the entry counts are the current writer's)`);
      }
      let closed = NO_RUN;
      if (LOOPS.has('closed')) {
        before = { ...registry.stats };
        const heap = heapHighWater();
        const cost = costWindow(fed, cryptoPool, registry.stats);
        const r = await checks(fed, { mode: 'closed', rate: RATE, window: WINDOW, count: RATE * SECONDS, maxMs: SECONDS * 3_000 });
        const spent = cost.stop();
        closed = figuresOf(r);
        await settled(registry.stats);
        console.log(`(r2) ${label}, closed loop (${WINDOW} outstanding, at most ${RATE}/s): ${describe(closed)}; ${busyOf(registry.stats, before, r.sent + WARM_UP, heap.stop())}`);
        console.log(`(r2) ${label}, closed loop, cost: ${spent}`);
      }
      if (PRESIGN) {
        before = { ...registry.stats };
        const heap = heapHighWater();
        const r = await checks(fed, { mode: 'open', rate: RATE, count: RATE * SECONDS, presign: true });
        const pre = figuresOf(r);
        await settled(registry.stats);
        console.log(`(r2) ${label}, open loop, asker's signing/verifying outside the window: ${describe(pre)}; ${busyOf(registry.stats, before, r.sent + WARM_UP, heap.stop())}`);
      }
      return { open, closed };
    } finally {
      clearInterval(trace);
      await registry.stop();
    }
  } finally {
    await ncb.close();
    await cryptoPool.close();
  }
}

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-bench' });
  const stateDir = await mkdtemp(join(tmpdir(), 'liaison-registry-bench-'));
  try {
    const key = await registryKey(stateDir);
    const before = used();
    const state = registryState(key, N);
    const t0 = performance.now();
    const ref = '01a2227e-7327-719f-9155-89b99ff2ec56';
    for (let i = 0; i < N; i++) state.store.upsert('XAA', number(i), { status: 'STOLEN', type: 'PASSPORT', owner: 'xa-border-police', reference: ref });
    const loadS = (performance.now() - t0) / 1000;
    const perRecord = (used() - before) / N;
    console.log(`(r1) ${N.toLocaleString('en')} records loaded in ${loadS.toFixed(1)} s (${Math.round(N / loadS).toLocaleString('en')} /s); memory ${perRecord.toFixed(1)} B/record (target ≤ 64)${gc ? '' : ' (run with --expose-gc for a tighter figure)'}`);

    const inline = await loadRuns(fed, state, 0);
    const spread = await loadRuns(fed, state, WORKERS);
    console.log(
      `(r2) ${WORKERS} worker(s) vs inline, same run: open-loop p99 ${(spread.open.p99 / inline.open.p99).toFixed(2)}×, p50 ${(spread.open.p50 / inline.open.p50).toFixed(2)}×; ` +
        `closed-loop rate ${(spread.closed.rate / inline.closed.rate).toFixed(2)}×, p99 ${(spread.closed.p99 / inline.closed.p99).toFixed(2)}× (below 1 is faster for latency, above 1 for rate)`,
    );

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const input = Buffer.alloc(512, 1);
    const sig = sign(null, input, privateKey);
    const t = performance.now();
    for (let i = 0; i < 20_000; i++) verify(null, input, publicKey, sig);
    const verifyRate = 20_000 / ((performance.now() - t) / 1000);
    for (const [label, f] of [['inline', inline.closed], [`${WORKERS} worker(s)`, spread.closed]] as const) {
      console.log(`(r3) closed loop, crypto ${label}: ${f.rate.toFixed(0)} checks/s = ${(f.rate / verifyRate).toFixed(2)} × the raw verify rate (${verifyRate.toFixed(0)}/s); a check is verified twice and signed twice (request, reply)`);
    }

    const ncb = await fed.connect('xc-ncb');
    const who = { agency: ncb.id, replica: ncb.replica };
    const expect = { ...who, consumers: new Set<string>() };
    const stores = [await objectSnapshotStore(ncb.nc, 'xc-ncb_snapshots'), fileSnapshotStore(stateDir)];
    for (const store of stores) {
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      const saved = await saveRegistryState(store, { store: state.store, persons: state.persons, positions: {} }, who);
      h.disable();
      gc?.();
      const loaded = await loadRegistryState(store, key, expect);
      if (loaded?.state.store.size !== N) throw new Error(`snapshot restored ${loaded?.state.store.size} records, expected ${N}`);
      const mb = (saved.bytes / 1e6).toFixed(0);
      console.log(
        `(r4) ${store.where}: snapshot of ${mb} MB written in ${(saved.ms / 1000).toFixed(2)} s (longest event-loop stall ${(h.max / 1e6).toFixed(0)} ms); restart to ready from it ${(loaded.ms / 1000).toFixed(2)} s (target < 15 s)`,
      );
    }
    await ncb.close();
  } finally {
    await fed.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
