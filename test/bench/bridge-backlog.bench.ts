/**
 * `node test/bench/bridge-backlog.bench.ts` — federation of federations (issue 17): delivery time of a backlog through
 * a bridge that was stopped. Two federations (med, atl; own roots, own nats-servers, both on the example policy)
 * bridged under an agreement admitting med's xa-border-police → atl's xb-police IntelligenceReport. The bridge is
 * stopped; med's xa-border-police sends BENCH_BRIDGE_BACKLOG_N (default 5,000) directed IntelligenceReports to
 * atl:xb-police (stored in med's stream, nothing crosses); the bridge is started again and the figure is the time from
 * its start until atl's verifying SDK has handled every copy. Each phase prints its figure; a phase that fails (a
 * copy crossing while the bridge is down, a backlog not delivered within 180 s, a copy lost, repeated or out of
 * batch order) prints FAILED with what it saw instead of stopping the run, and the run exits 1 at the end.
 * Bounded: 300 s overall; loopback only; every server and client is stopped.
 */
import os from 'node:os';
import type { RunningBridge } from '../../services/bridge/bridge.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { agreementText, applyOn, bridgeUp, connectBridged, signedByBoth, untilPeerKnown } from '../support/bridge.ts';
import { createTwoFederations } from '../support/two-federations.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_BRIDGE_BACKLOG_N ?? 5_000);
const TYPE = 'IntelligenceReport';
const TO = 'atl:xb-police';
const BATCH = 100;
const DELIVERY_LIMIT_MS = 180_000;

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

/** Send N copies to TO, BATCH at a time (each batch published concurrently); the ids in send order. */
async function sendBacklog(sender: LiaisonClient): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < N; i += BATCH) {
    const rs = await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => sender.send(TYPE, { summary: `backlog ${i + k}`, assessment: 'bench' }, { to: TO })));
    for (const r of rs) sent.push(r.id);
  }
  return sent;
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
  for (let b = 0; b < sent.length; b += BATCH) {
    const batch = new Set(sent.slice(b, b + BATCH));
    disorder += handled.slice(b, b + BATCH).filter((id) => !batch.has(id)).length;
  }
  if (lost) out.push(`${lost} lost`);
  if (twice) out.push(`${twice} handled twice`);
  if (foreign) out.push(`${foreign} not of this backlog`);
  if (disorder) out.push(`${disorder} out of batch order`);
  return out;
}

async function main(): Promise<void> {
  const feds = await createTwoFederations({ med: ['xa-border-police'], atl: ['xb-police'] });
  let bridge: RunningBridge | undefined;
  const clients: LiaisonClient[] = [];
  let failed = false;
  const fail = (line: string) => {
    failed = true;
    console.log(`  FAILED: ${line}`);
  };
  try {
    const doc = await signedByBoth(feds, await agreementText(feds, 'med-atl', [{ from: 'med:xa-border-police', to: TO, types: [TYPE], tier: 'personal' }]));
    await applyOn(feds.med, doc);
    await applyOn(feds.atl, doc);
    bridge = await bridgeUp(feds, 'med-atl');
    const sender = await connectBridged(feds.med, 'xa-border-police');
    const remote = await connectBridged(feds.atl, 'xb-police');
    clients.push(sender, remote);
    await untilPeerKnown(sender, 'atl');
    await untilPeerKnown(remote, 'med');
    const handled: string[] = [];
    await remote.consume((m) => void handled.push(m.header.id), { types: [TYPE] });
    // One copy through the running bridge first: the path works before it is cut.
    const probe = await sender.send(TYPE, { summary: 'probe', assessment: 'bench' }, { to: TO });
    if (!(await until(() => handled.includes(probe.id), 30_000))) throw new Error('the probe copy never crossed the running bridge');
    handled.length = 0;
    console.log(`bridge backlog bench: ${N} messages, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);

    await bridge.stop();
    bridge = undefined;
    const t0 = performance.now();
    const sent = await sendBacklog(sender);
    const sendMs = performance.now() - t0;
    await sleep(1_000);
    console.log(`  bridge stopped: ${N} sent into med's stream in ${(sendMs / 1000).toFixed(2)} s (${Math.round(N / (sendMs / 1000))} msg/s); handled in atl meanwhile: ${handled.length}`);
    if (handled.length > 0) fail(`${handled.length} copies crossed a stopped bridge`);

    const t1 = performance.now();
    bridge = await bridgeUp(feds, 'med-atl');
    const startMs = performance.now() - t1;
    const complete = await until(() => handled.length >= N, DELIVERY_LIMIT_MS);
    const deliverMs = performance.now() - t1;
    const s = bridge.stats()['med→atl'];
    const link = s ? `; bridge forwarded ${s.forwarded}, duplicates ${s.duplicates}, refused ${s.refused}, restarts ${s.restarts}` : '';
    if (complete) console.log(`  bridge started again (${Math.round(startMs)} ms to connect): backlog of ${N} handled in atl ${(deliverMs / 1000).toFixed(2)} s after the start (${Math.round(N / (deliverMs / 1000))} msg/s)${link}`);
    else fail(`only ${handled.length}/${N} handled ${Math.round(DELIVERY_LIMIT_MS / 1000)} s after the bridge started again${link}`);

    await sleep(500);
    const wrong = problems(sent, handled);
    const rejected = Object.values(remote.stats.rejected).reduce((a: number, b) => a + (b ?? 0), 0);
    if (rejected) wrong.push(`${rejected} rejected by atl's SDK (${JSON.stringify(remote.stats.rejected)})`);
    if (wrong.length) fail(wrong.join(', '));
    else console.log(`  checked: ${N} handled once each, in batch order, none rejected`);
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await bridge?.stop();
    await feds.stop();
  }
  if (failed) throw new Error('bridge backlog bench: a phase failed (see above)');
}

runBounded('bridge-backlog', 300_000, main);
