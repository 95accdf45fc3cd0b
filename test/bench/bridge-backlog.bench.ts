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
import { bridgeUp, connectAcross, POLICE_MED_TO_ATL } from '../support/bridge.ts';
import { createBridgedFederations } from '../support/bridged-federations.ts';
import { deliveryProblems, linkFigures, rejectedProblem, sendInBatches, sleep, TYPE, within } from './bridge-traffic.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_BRIDGE_BACKLOG_N ?? 5_000);
const TO = POLICE_MED_TO_ATL.to;
const DELIVERY_LIMIT_MS = 180_000;

async function main(): Promise<void> {
  const started = await createBridgedFederations({ med: ['xa-border-police'], atl: ['xb-police'], id: 'med-atl', flows: [POLICE_MED_TO_ATL] });
  const feds = started.feds;
  let bridge: RunningBridge | undefined = started.bridge;
  const clients: LiaisonClient[] = [];
  let failed = false;
  const fail = (line: string) => {
    failed = true;
    console.log(`  FAILED: ${line}`);
  };
  try {
    const { med: sender, atl: remote } = await connectAcross(feds, 'xa-border-police', 'xb-police');
    clients.push(sender, remote);
    const handled: string[] = [];
    await remote.consume((m) => void handled.push(m.header.id), { types: [TYPE] });
    // One copy through the running bridge first: the path works before it is cut.
    const probe = await sender.send(TYPE, { summary: 'probe', assessment: 'bench' }, { to: TO });
    if (!(await within(() => handled.includes(probe.id), 30_000))) throw new Error('the probe copy never crossed the running bridge');
    handled.length = 0;
    console.log(`bridge backlog bench: ${N} messages, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);

    await bridge.stop();
    bridge = undefined;
    const t0 = performance.now();
    const sent: string[] = [];
    await sendInBatches(sender, TO, N, 'backlog', sent);
    const sendMs = performance.now() - t0;
    await sleep(1_000);
    console.log(`  bridge stopped: ${N} sent into med's stream in ${(sendMs / 1000).toFixed(2)} s (${Math.round(N / (sendMs / 1000))} msg/s); handled in atl meanwhile: ${handled.length}`);
    if (handled.length > 0) fail(`${handled.length} copies crossed a stopped bridge`);

    const t1 = performance.now();
    bridge = await bridgeUp(feds, 'med-atl');
    const startMs = performance.now() - t1;
    const complete = await within(() => handled.length >= N, DELIVERY_LIMIT_MS);
    const deliverMs = performance.now() - t1;
    const link = linkFigures(bridge);
    if (complete) console.log(`  bridge started again (${Math.round(startMs)} ms to connect): backlog of ${N} handled in atl ${(deliverMs / 1000).toFixed(2)} s after the start (${Math.round(N / (deliverMs / 1000))} msg/s)${link}`);
    else fail(`only ${handled.length}/${N} handled ${Math.round(DELIVERY_LIMIT_MS / 1000)} s after the bridge started again${link}`);

    await sleep(500);
    const wrong = deliveryProblems(sent, handled, 'backlog');
    const rejected = rejectedProblem(remote, 'atl');
    if (rejected) wrong.push(rejected);
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
