/**
 * `npm run bench`, issue 16 "every core at work": signing and verification on one core vs on crypto worker
 * threads (LiaisonClient `cryptoWorkers`, services/sdk/crypto/pool.ts), ratios in the same run:
 *   (v1) raw node:crypto Ed25519 verify on the calling thread (one core);
 *   (vN) the same verifies through a CryptoPool of N threads (one batch per event-loop turn);
 *   (o1)/(oN) the receive pipeline in process (decode, checks, signature, policy, body) over one sealed copy, its
 *        signature checked inline vs through the pool: rate, and the event loop's own CPU per message
 *        (process.threadCpuUsage — what bounds a receiver when the other cores are free);
 *   (r1)/(rN) Liaison receive from a stored backlog (the sender finished first): the receiver's
 *        signature checks on its event loop vs on N threads;
 *   (s1)/(sN) the send rate of those backlog runs (the publisher alone): its signing inline vs on N threads;
 *   (e1)/(eN) Liaison publish → verified receive, streaming (the publisher is a worker thread of this
 *        process, so it shares the cores): sender and receiver crypto inline vs on N threads.
 * N defaults to the SDK's default (cores − 1, at least 1 here); rounds alternate 1/N so both see the same
 * machine load, and medians are reported. Bounded: fixed counts, every phase with a timeout, an overall
 * limit; a slow run is a figure, not a crash.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import os from 'node:os';
import { CryptoPool } from '../../services/sdk/crypto/pool.ts';
import { openMessage, openMessageWith } from '../../services/sdk/envelope/open.ts';
import { defaultCryptoWorkers } from '../../services/sdk/crypto/size.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import { liaisonRate, withTimeout, type LiaisonRate } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';
import { BENCH_BODY, BENCH_RECEIVER, BENCH_SENDER, BENCH_TYPE } from './bench-report.ts';

const COUNT = Number(process.env.BENCH_CORES_COUNT ?? 10_000);
const ROUNDS = Number(process.env.BENCH_CORES_ROUNDS ?? 3);
const N_VERIFY = Number(process.env.BENCH_VERIFY ?? 30_000);
const WORKERS = Number(process.env.BENCH_CORES_WORKERS ?? Math.max(1, defaultCryptoWorkers()));
const SENDER = BENCH_SENDER;
const RECEIVER = BENCH_RECEIVER;
const TYPE = BENCH_TYPE;
const BODY = BENCH_BODY;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => n.toFixed(0).padStart(7);

/** An input the size of a signed IntelligenceReport copy and its signature. */
function verifyCase() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const input = Buffer.alloc(600, 3);
  return { input, sig: sign(null, input, privateKey), publicKey };
}

function inlineVerifyRate(): number {
  const { input, sig, publicKey } = verifyCase();
  const t0 = performance.now();
  for (let i = 0; i < N_VERIFY; i++) if (!verify(null, input, publicKey, sig)) throw new Error('verify baseline failed');
  return N_VERIFY / ((performance.now() - t0) / 1000);
}

async function poolVerifyRate(size: number): Promise<number> {
  const { input, sig, publicKey } = verifyCase();
  const pool = CryptoPool.create({ size });
  try {
    await pool.ready(); // threads up (until then jobs run on the calling thread)
    const t0 = performance.now();
    const all = Array.from({ length: N_VERIFY }, () => pool.verify(input, sig, publicKey));
    const ok = await withTimeout(Promise.all(all), 120_000, 'pool verify');
    if (!ok.every(Boolean)) throw new Error('pool verify failed');
    return N_VERIFY / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

/** (o1)/(oN): the receive pipeline over one sealed copy, inline or through a pool of `size`; rate and event-loop CPU µs per message. */
async function openRate(fed: TestFederation, size: number): Promise<{ rate: number; loopCpuUs: number }> {
  const sender = await fed.connect(SENDER, { cryptoWorkers: 0 });
  const receiver = await fed.connect(RECEIVER, { cryptoWorkers: 0 });
  const copy = sender.seal(TYPE, BODY, { to: RECEIVER }).copies[0]!;
  const ctx = receiver.openContext();
  const incoming = { subject: copy.subject, data: copy.data, header: (n: string) => copy.headers[n] };
  const pool = size > 0 ? CryptoPool.create({ size }) : undefined;
  const check = pool && ((i: Uint8Array, sig: Uint8Array, k: import('node:crypto').KeyObject) => pool.verify(i, sig, k));
  try {
    await pool?.ready(); // threads up (until then jobs run on the calling thread)
    if (check) await openMessageWith(ctx, incoming, check);
    const cpu0 = process.threadCpuUsage();
    const t0 = performance.now();
    if (!check) for (let i = 0; i < N_VERIFY; i++) openMessage(ctx, incoming);
    // Through the pool as a consumer does: a window of 64 copies in flight, refilled as they complete.
    else for (let i = 0; i < N_VERIFY; i += 64) await Promise.all(Array.from({ length: Math.min(64, N_VERIFY - i) }, () => openMessageWith(ctx, incoming, check)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.threadCpuUsage(cpu0);
    return { rate: N_VERIFY / seconds, loopCpuUs: (cpu.user + cpu.system) / N_VERIFY };
  } finally {
    await pool?.close();
    await sender.close();
    await receiver.close();
  }
}

function run(fed: TestFederation, cryptoWorkers: number, backlog: boolean): Promise<LiaisonRate> {
  return liaisonRate(fed, { sender: SENDER, receiver: RECEIVER, count: COUNT, type: TYPE, body: BODY, to: RECEIVER, stampField: 'recommendedAction', backlog, cryptoWorkers });
}

async function main(): Promise<void> {
  console.log(`cores bench: ${os.availableParallelism()} cores (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}); N = ${WORKERS} crypto worker thread(s); ${COUNT} messages per run, ${ROUNDS} rounds`);
  const v1 = inlineVerifyRate();
  const vN = await poolVerifyRate(WORKERS);
  console.log(`(v1) Ed25519 verify, calling thread       ${fmt(v1)} /s`);
  console.log(`(vN) Ed25519 verify, pool of ${WORKERS}            ${fmt(vN)} /s   ratio (vN)/(v1) ${(vN / v1).toFixed(2)}`);
  const fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'cores-bench' });
  try {
    const o1 = await openRate(fed, 0);
    const oN = await openRate(fed, WORKERS);
    console.log(`(o1) receive pipeline in process, inline  ${fmt(o1.rate)} msg/s   event loop ${o1.loopCpuUs.toFixed(1)} µs/msg`);
    console.log(`(oN) receive pipeline in process, pool of ${WORKERS} ${fmt(oN.rate)} msg/s   event loop ${oN.loopCpuUs.toFixed(1)} µs/msg   ratio rate ${(oN.rate / o1.rate).toFixed(2)}, event-loop CPU ${(oN.loopCpuUs / o1.loopCpuUs).toFixed(2)}`);
    const runs: Record<'r1' | 'rN' | 'e1' | 'eN', LiaisonRate[]> = { r1: [], rN: [], e1: [], eN: [] };
    for (let i = 0; i < ROUNDS; i++) {
      runs.r1.push(await run(fed, 0, true));
      runs.rN.push(await run(fed, WORKERS, true));
      runs.e1.push(await run(fed, 0, false));
      runs.eN.push(await run(fed, WORKERS, false));
      console.log(`  round ${i + 1}: r1 ${fmt(runs.r1[i]!.rate)}  rN ${fmt(runs.rN[i]!.rate)}  e1 ${fmt(runs.e1[i]!.rate)}  eN ${fmt(runs.eN[i]!.rate)} msg/s (load ${os.loadavg()[0]!.toFixed(1)})`);
    }
    const m = (k: keyof typeof runs) => median(runs[k].map((r) => r.rate));
    const cpu = (k: keyof typeof runs) => median(runs[k].map((r) => r.cpu.receiver));
    console.log(`(r1) receive from backlog, crypto inline  ${fmt(m('r1'))} msg/s   receiver CPU ${cpu('r1').toFixed(0)} µs/msg (all its threads)`);
    console.log(`(rN) receive from backlog, pool of ${WORKERS}      ${fmt(m('rN'))} msg/s   receiver CPU ${cpu('rN').toFixed(0)} µs/msg`);
    const pub = (k: keyof typeof runs) => median(runs[k].map((r) => r.publisherRate));
    console.log(`(s1) send (publisher alone), inline       ${fmt(pub('r1'))} msg/s`);
    console.log(`(sN) send (publisher alone), pool of ${WORKERS}    ${fmt(pub('rN'))} msg/s`);
    console.log(`(e1) publish→verified receive, inline     ${fmt(m('e1'))} msg/s`);
    console.log(`(eN) publish→verified receive, pool of ${WORKERS}  ${fmt(m('eN'))} msg/s`);
    console.log(`ratio (rN)/(r1) backlog receive, all cores vs one   ${(m('rN') / m('r1')).toFixed(2)}`);
    console.log(`ratio (sN)/(s1) send, all cores vs one                ${(pub('rN') / pub('r1')).toFixed(2)}`);
    console.log(`ratio (eN)/(e1) end to end, all cores vs one        ${(m('eN') / m('e1')).toFixed(2)}`);
    console.log(`ratio (r1)/(v1) (rN)/(v1) backlog receive vs one core's raw verify  ${(m('r1') / v1).toFixed(2)} ${(m('rN') / v1).toFixed(2)}`);
  } finally {
    await fed.stop();
  }
}

runBounded('cores', 15 * 60_000, main);
