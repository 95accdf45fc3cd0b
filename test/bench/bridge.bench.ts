/**
 * `node test/bench/bridge.bench.ts` — federation of federations (issue 17): bridged vs local end-to-end rate in the
 * same run. Two federations (med, atl; own roots, own nats-servers, both on the example policy) bridged under an
 * agreement admitting med's xa-border-police → atl's xb-police IntelligenceReport. med's xa-border-police sends
 * BENCH_BRIDGE_N (default 5,000) directed IntelligenceReports to its own federation's xb-police (local), then as many
 * to atl:xb-police (bridged: med's stream, the bridge, atl's stream, atl's verifying SDK). Figures: per path, from the
 * first send until the receiving handler has every copy (verified, once, in order). Nothing is asserted on time. A
 * path that fails (a send refused, not delivered within 120 s, a copy lost, repeated, out of batch order or rejected)
 * prints FAILED with what it saw instead of stopping the run; the other path still runs and the run exits 1 at the
 * end. Bounded: 300 s overall; loopback only; every server and client is stopped.
 */
import os from 'node:os';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { connectAcross, connectBridged, POLICE_MED_TO_ATL } from '../support/bridge.ts';
import { createBridgedFederations } from '../support/bridged-federations.ts';
import { deliveryProblems, linkFigures, rejectedProblem, sendInBatches, sleep, TYPE, within } from './bridge-traffic.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_BRIDGE_N ?? 5_000);

/** How long one path may take to deliver everything (two paths within the 300 s bound). */
const DELIVERY_LIMIT_MS = 120_000;

/** One path's outcome: its figures, or what went wrong (a failed send, a timeout, loss, repeats, disorder). */
type PathResult = { sendMs: number; deliverMs: number; problems: string[] };

/** Send N copies from `sender` to `to` (BATCH at a time) and time until `handled` holds them all; never throws. */
async function run(sender: LiaisonClient, to: string, handled: string[]): Promise<PathResult> {
  const sent: string[] = [];
  const t0 = performance.now();
  try {
    await sendInBatches(sender, to, N, 'sighting', sent);
  } catch (err) {
    return { sendMs: performance.now() - t0, deliverMs: Number.NaN, problems: [`sending stopped after ${sent.length}/${N}: ${(err as Error).message}`] };
  }
  const sendMs = performance.now() - t0;
  const complete = await within(() => handled.length >= N, DELIVERY_LIMIT_MS);
  const deliverMs = performance.now() - t0;
  await sleep(300);
  const wrong = deliveryProblems(sent, handled, 'run');
  if (!complete) wrong.unshift(`only ${handled.length}/${N} handled ${Math.round(DELIVERY_LIMIT_MS / 1000)} s after the first send`);
  return { sendMs, deliverMs: complete ? deliverMs : Number.NaN, problems: wrong };
}

async function main(): Promise<void> {
  const { feds, bridge } = await createBridgedFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police'], id: 'med-atl', flows: [POLICE_MED_TO_ATL] });
  const clients: LiaisonClient[] = [];
  let failed = false;
  const rate = (ms: number) => Math.round(N / (ms / 1000));
  /** Print a path's figure, or FAILED with what it saw; the run goes on. */
  const report = (label: string, r: PathResult, extra = ''): boolean => {
    if (r.problems.length === 0) {
      console.log(`  ${label}: sent in ${(r.sendMs / 1000).toFixed(2)} s, handled by ${(r.deliverMs / 1000).toFixed(2)} s (${rate(r.deliverMs)} msg/s end to end)${extra}`);
      return true;
    }
    failed = true;
    console.log(`  ${label}: FAILED: ${r.problems.join(', ')}${extra}`);
    return false;
  };
  try {
    const { med: sender, atl: remote } = await connectAcross(feds, 'xa-border-police', 'xb-police');
    clients.push(sender, remote);
    const local = await connectBridged(feds.med, 'xb-police');
    clients.push(local);
    const localGot: string[] = [];
    const remoteGot: string[] = [];
    await local.consume((m) => void localGot.push(m.header.id), { types: [TYPE] });
    await remote.consume((m) => void remoteGot.push(m.header.id), { types: [TYPE] });
    console.log(`bridge bench: ${N} messages per path, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    const l = await run(sender, 'xb-police', localGot);
    const localOk = report('local  (med xa-border-police → med xb-police)', l);
    const b = await run(sender, 'atl:xb-police', remoteGot);
    const rejected = rejectedProblem(remote, 'atl');
    if (rejected) b.problems.push(rejected);
    const bridgedOk = report('bridged (med xa-border-police → atl xb-police)', b, linkFigures(bridge));
    if (localOk && bridgedOk) console.log(`  bridged / local end-to-end rate: ${(l.deliverMs / b.deliverMs).toFixed(2)}`);
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await bridge.stop();
    await feds.stop();
  }
  if (failed) throw new Error('bridge bench: a path failed (see FAILED above)');
}

runBounded('bridge', 300_000, main);
