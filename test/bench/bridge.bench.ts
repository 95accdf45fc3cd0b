/**
 * `node test/bench/bridge.bench.ts` — federation of federations (issue 17): bridged vs local end-to-end rate in the
 * same run. Two federations (med, atl; own roots, own nats-servers, both on the example policy) bridged under an
 * agreement admitting med's xa-border-police → atl's xb-police IntelligenceReport. med's xa-border-police sends
 * BENCH_BRIDGE_N (default 5,000) directed IntelligenceReports to its own federation's xb-police (local), then as many
 * to atl:xb-police (bridged: med's stream, the bridge, atl's stream, atl's verifying SDK). Figures: per path, from the
 * first send until the receiving handler has every copy (verified, once, in order). Nothing is asserted on time; a run
 * that loses, reorders or repeats a message fails (exit 1). Bounded: 300 s overall; loopback only; every server and
 * client is stopped.
 */
import os from 'node:os';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { agreementText, applyOn, bridgeUp, connectBridged, signedByBoth, untilPeerKnown } from '../support/bridge.ts';
import { createTwoFederations } from '../support/two-federations.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_BRIDGE_N ?? 5_000);
const TYPE = 'IntelligenceReport';

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Send N copies from `sender` to `to` (100 at a time) and time until `handled` holds them all, in order, once. */
async function run(sender: LiaisonClient, to: string, handled: string[]): Promise<{ sendMs: number; deliverMs: number }> {
  const sent: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i += 100) {
    const rs = await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => sender.send(TYPE, { summary: `sighting ${i + k}`, assessment: 'bench' }, { to })));
    for (const r of rs) sent.push(r.id);
  }
  const sendMs = performance.now() - t0;
  await waitFor(() => handled.length >= N, 240_000, `${to} to handle ${N}`).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${handled.length} handled`, { cause: err });
  });
  const deliverMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  if (handled.length !== N) throw new Error(`${handled.length} handled, ${N} sent to ${to}`);
  // Each batch of 100 is published concurrently: order is checked between batches, and no id twice.
  if (new Set(handled).size !== N) throw new Error(`a copy to ${to} was handled twice`);
  for (let b = 0; b < N; b += 100) {
    const want = new Set(sent.slice(b, b + 100));
    if (!handled.slice(b, b + 100).every((id) => want.has(id))) throw new Error(`copies to ${to} arrived out of batch order`);
  }
  return { sendMs, deliverMs };
}

async function main(): Promise<void> {
  const feds = await createTwoFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police'] });
  const doc = await signedByBoth(feds, await agreementText(feds, 'med-atl', [{ from: 'med:xa-border-police', to: 'atl:xb-police', types: [TYPE], tier: 'personal' }]));
  await applyOn(feds.med, doc);
  await applyOn(feds.atl, doc);
  const bridge = await bridgeUp(feds, 'med-atl');
  const sender = await connectBridged(feds.med, 'xa-border-police');
  const local = await connectBridged(feds.med, 'xb-police');
  const remote = await connectBridged(feds.atl, 'xb-police');
  try {
    await untilPeerKnown(sender, 'atl');
    await untilPeerKnown(remote, 'med');
    const localGot: string[] = [];
    const remoteGot: string[] = [];
    await local.consume((m) => void localGot.push(m.header.id), { types: [TYPE] });
    await remote.consume((m) => void remoteGot.push(m.header.id), { types: [TYPE] });
    const l = await run(sender, 'xb-police', localGot);
    const b = await run(sender, 'atl:xb-police', remoteGot);
    if (Object.keys(remote.stats.rejected).length > 0) throw new Error(`rejected across: ${JSON.stringify(remote.stats.rejected)}`);
    const rate = (ms: number) => Math.round(N / (ms / 1000));
    const s = bridge.stats()['med→atl']!;
    console.log(`bridge bench: ${N} messages per path, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    console.log(`  local  (med xa-border-police → med xb-police): sent in ${(l.sendMs / 1000).toFixed(2)} s, handled by ${(l.deliverMs / 1000).toFixed(2)} s (${rate(l.deliverMs)} msg/s end to end)`);
    console.log(`  bridged (med xa-border-police → atl xb-police): sent in ${(b.sendMs / 1000).toFixed(2)} s, handled by ${(b.deliverMs / 1000).toFixed(2)} s (${rate(b.deliverMs)} msg/s end to end); bridge forwarded ${s.forwarded}, duplicates ${s.duplicates}, refused ${s.refused}, restarts ${s.restarts}`);
    console.log(`  bridged / local end-to-end rate: ${(l.deliverMs / b.deliverMs).toFixed(2)}`);
  } finally {
    await Promise.allSettled([sender.close(), local.close(), remote.close()]);
    await bridge.stop();
    await feds.stop();
  }
}

runBounded('bridge', 300_000, main);
