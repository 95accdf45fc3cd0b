import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { connectAcross, POLICE_ATL_TO_MED, POLICE_MED_TO_ATL } from './support/bridge.ts';
import { createBridgedFederations } from './support/bridged-federations.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import type { TwoFederations } from './support/two-federations.ts';

/**
 * An in-process stop returns even when the nats-server it talks to stops answering (SIGSTOP: connections stay open,
 * nothing is answered): the exchange's control plane (`attachExchange(…).stop()`: audit, directory, services, admin
 * connection) and a running bridge. CI once saw a bridge suite's teardown hang past its 60 s hook; an unbounded
 * drain, flush or settle waits forever on a stalled server. What a stop could not finish is what JetStream still
 * holds (unacknowledged copies are redelivered), so a bounded stop loses nothing acknowledged.
 */
const HUNG = Symbol('hung');
/** Far above every bound the stops set themselves (≤ 20 s); a stop still pending then waits on nothing that ends. */
const HANG_MS = 45_000;

async function settles(p: Promise<unknown>): Promise<{ ms: number; hung: boolean }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.then(() => undefined, () => undefined), new Promise<typeof HUNG>((res) => (timer = setTimeout(() => res(HUNG), HANG_MS)))]);
  clearTimeout(timer);
  return { ms: Date.now() - t0, hung: r === HUNG };
}

const stalled: number[] = [];
afterEach(() => {
  for (const pid of stalled.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
});

function stall(pid: number | undefined): void {
  expect(pid, 'a local nats-server process to stall').toBeDefined();
  process.kill(pid!, 'SIGSTOP');
  stalled.push(pid!);
}

describe('stops are bounded when the server stops answering', () => {
  let fed: TestFederation | undefined;
  let feds: TwoFederations | undefined;
  let bridge: RunningBridge | undefined;
  afterEach(async () => {
    await fed?.server.stop();
    await feds?.med.server.stop();
    await feds?.atl.server.stop();
    fed = feds = bridge = undefined;
  });

  it('the exchange control plane stops (audit, directory, services, admin connection) with its server stalled', async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police'], name: 'stop-stalled' });
    const police = await fed.connect('xa-border-police');
    await Promise.all(Array.from({ length: 20 }, (_, i) => police.send('IntelligenceReport', { summary: `before the stall ${i}` }, { to: 'xb-police' })));
    await fed.exchange.audit!.flush();
    stall(fed.server.pid);
    const s = await settles(fed.exchange.stop());
    console.log(`[stop-bounded] exchange stop with its server stalled: ${s.hung ? 'still pending' : 'returned'} after ${s.ms} ms`);
    expect(s.hung, 'the exchange stop returned').toBe(false);
    await police.close().catch(() => undefined);
  }, 120_000);

  it('a bridge stops with the peer federation’s server stalled', async () => {
    ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police', 'xb-police'], atl: ['xb-police', 'xa-border-police'], id: 'med-atl', flows: [POLICE_MED_TO_ATL, POLICE_ATL_TO_MED] }));
    const { med } = await connectAcross(feds, 'xa-border-police', 'xb-police');
    // Copies on their way into atl when it stops answering: the link has a window in flight.
    await Promise.all(Array.from({ length: 50 }, (_, i) => med.send('IntelligenceReport', { summary: `across ${i}` }, { to: 'atl:xb-police' })));
    stall(feds.atl.server.pid);
    const s = await settles(bridge.stop());
    console.log(`[stop-bounded] bridge stop with the peer stalled: ${s.hung ? 'still pending' : 'returned'} after ${s.ms} ms`);
    expect(s.hung, 'the bridge stop returned').toBe(false);
  }, 150_000);
});
