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
import type { RunningBridge } from '../../services/bridge/bridge.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { agreementText, applyOn, bridgeUp, connectBridged, signedByBoth, untilPeerKnown } from '../support/bridge.ts';
import { createTwoFederations } from '../support/two-federations.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_BRIDGE_N ?? 5_000);
const TYPE = 'IntelligenceReport';

const BATCH = 100;
/** How long one path may take to deliver everything (two paths within the 300 s bound). */
const DELIVERY_LIMIT_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `pred` holds or `ms` passed; true when it held. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** What went wrong with `handled` against `sent` (lost, repeated, out of batch order); empty when nothing did. */
function problems(sent: string[], handled: string[]): string[] {
  const out: string[] = [];
  const want = new Set(sent);
  const got = new Set(handled);
  const lost = sent.filter((id) => !got.has(id)).length;
  const twice = handled.length - got.size;
  const foreign = handled.filter((id) => !want.has(id)).length;
  let disorder = 0;
  // Each batch is published concurrently: order is checked between batches.
  for (let b = 0; b < sent.length; b += BATCH) {
    const batch = new Set(sent.slice(b, b + BATCH));
    disorder += handled.slice(b, b + BATCH).filter((id) => !batch.has(id)).length;
  }
  if (lost) out.push(`${lost} lost`);
  if (twice) out.push(`${twice} handled twice`);
  if (foreign) out.push(`${foreign} not of this run`);
  if (disorder) out.push(`${disorder} out of batch order`);
  return out;
}

/** One path's outcome: its figures, or what went wrong (a failed send, a timeout, loss, repeats, disorder). */
type PathResult = { sendMs: number; deliverMs: number; problems: string[] };

/** Send N copies from `sender` to `to` (BATCH at a time) and time until `handled` holds them all; never throws. */
async function run(sender: LiaisonClient, to: string, handled: string[]): Promise<PathResult> {
  const sent: string[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < N; i += BATCH) {
      const rs = await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => sender.send(TYPE, { summary: `sighting ${i + k}`, assessment: 'bench' }, { to })));
      for (const r of rs) sent.push(r.id);
    }
  } catch (err) {
    return { sendMs: performance.now() - t0, deliverMs: Number.NaN, problems: [`sending stopped after ${sent.length}/${N}: ${(err as Error).message}`] };
  }
  const sendMs = performance.now() - t0;
  const complete = await until(() => handled.length >= N, DELIVERY_LIMIT_MS);
  const deliverMs = performance.now() - t0;
  await sleep(300);
  const wrong = problems(sent, handled);
  if (!complete) wrong.unshift(`only ${handled.length}/${N} handled ${Math.round(DELIVERY_LIMIT_MS / 1000)} s after the first send`);
  return { sendMs, deliverMs: complete ? deliverMs : Number.NaN, problems: wrong };
}

async function main(): Promise<void> {
  const feds = await createTwoFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police'] });
  let bridge: RunningBridge | undefined;
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
    const doc = await signedByBoth(feds, await agreementText(feds, 'med-atl', [{ from: 'med:xa-border-police', to: 'atl:xb-police', types: [TYPE], tier: 'personal' }]));
    await applyOn(feds.med, doc);
    await applyOn(feds.atl, doc);
    bridge = await bridgeUp(feds, 'med-atl');
    const sender = await connectBridged(feds.med, 'xa-border-police');
    const local = await connectBridged(feds.med, 'xb-police');
    const remote = await connectBridged(feds.atl, 'xb-police');
    clients.push(sender, local, remote);
    await untilPeerKnown(sender, 'atl');
    await untilPeerKnown(remote, 'med');
    const localGot: string[] = [];
    const remoteGot: string[] = [];
    await local.consume((m) => void localGot.push(m.header.id), { types: [TYPE] });
    await remote.consume((m) => void remoteGot.push(m.header.id), { types: [TYPE] });
    console.log(`bridge bench: ${N} messages per path, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    const l = await run(sender, 'xb-police', localGot);
    const localOk = report('local  (med xa-border-police → med xb-police)', l);
    const b = await run(sender, 'atl:xb-police', remoteGot);
    const rejected = Object.values(remote.stats.rejected).reduce((a: number, n) => a + (n ?? 0), 0);
    if (rejected) b.problems.push(`${rejected} rejected by atl's SDK (${JSON.stringify(remote.stats.rejected)})`);
    const s = bridge.stats()['med→atl'];
    const link = s ? `; bridge forwarded ${s.forwarded}, duplicates ${s.duplicates}, refused ${s.refused}, restarts ${s.restarts}` : '';
    const bridgedOk = report('bridged (med xa-border-police → atl xb-police)', b, link);
    if (localOk && bridgedOk) console.log(`  bridged / local end-to-end rate: ${(l.deliverMs / b.deliverMs).toFixed(2)}`);
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await bridge?.stop();
    await feds.stop();
  }
  if (failed) throw new Error('bridge bench: a path failed (see FAILED above)');
}

runBounded('bridge', 300_000, main);
