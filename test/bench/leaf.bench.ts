/**
 * `node test/bench/leaf.bench.ts` — edge nodes (issue 17): delivery time of an offline backlog after reconnect.
 * A hub with a TLS leafnode port and an agency leaf (services/edge); the hub is stopped (SIGTERM), the agency sends
 * BENCH_LEAF_N (default 10,000) directed IntelligenceReports through its leaf (stored in the leaf's outbox), the hub
 * is started again on the same port and store. Figures: the offline send rate into the outbox; from the moment the
 * restarted hub's nats-server answers (the control plane attaches meanwhile) until (1) the forwarder has every copy acknowledged
 * by the exchange and (2) the receiving agency's handler has every copy, verified, each once, in order. Nothing is
 * asserted on time; a run that loses, reorders or repeats a message fails (exit 1). Bounded: 300 s overall;
 * loopback only; every server and client is stopped.
 */
import os from 'node:os';
import { connectViaLeaf } from '../../services/edge/connect.ts';
import { startLeaf } from '../../services/edge/leaf.ts';
import { freePort } from '../../services/exchange/nats-process.ts';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { createEdgeFederation } from '../support/edge.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_LEAF_N ?? 10_000);
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const fed = await createEdgeFederation({ agencies: [SENDER, RECEIVER] });
  const leaf = await startLeaf({ agencyDir: fed.agencyDirs[SENDER]!, port: await freePort(), hubUrl: fed.leafUrl, retryMs: 100 });
  const sender = await connectViaLeaf({ agencyDir: fed.agencyDirs[SENDER]!, catalog: fed.catalog });
  const receiver = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog });
  const handled: string[] = [];
  try {
    await receiver.consume((m) => void handled.push(m.header.id), { types: [TYPE] });
    await fed.stopHub();
    const sent: { id: string; seq: number }[] = [];
    const t0 = performance.now();
    for (let i = 0; i < N; i += 100) {
      const rs = await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => sender.send(TYPE, { summary: `sighting ${i + k}`, migrantsCount: (i + k) % 90, assessment: 'bench' }, { to: RECEIVER })));
      for (const r of rs) sent.push({ id: r.id, seq: r.copies[0]!.seq });
    }
    const offlineMs = performance.now() - t0;
    const h0 = performance.now();
    // Watched from the start: the forwarder reaches the hub as soon as its nats-server answers.
    const forwarded = waitFor(() => leaf.forwarder.stats.nextSeq > N, 240_000, 'the forwarder to drain the outbox').then(() => performance.now());
    const delivered = waitFor(() => handled.length >= N, 240_000, 'the receiver to handle the backlog').then(() => performance.now());
    const r0 = await fed.startHub();
    const serverMs = r0 - h0;
    const attachMs = performance.now() - r0;
    const forwardedMs = (await forwarded) - r0;
    const deliveredMs = (await delivered) - r0;
    await new Promise((r) => setTimeout(r, 500));
    const expected = [...sent].sort((a, b) => a.seq - b.seq).map((s) => s.id);
    if (handled.length !== N) throw new Error(`${handled.length} handled, ${N} sent`);
    if (handled.some((id, i) => id !== expected[i])) throw new Error('the backlog arrived out of order');
    if (Object.keys(receiver.stats.rejected).length > 0) throw new Error(`rejected: ${JSON.stringify(receiver.stats.rejected)}`);
    const s = leaf.forwarder.stats;
    console.log(`leaf bench: ${N} messages, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    console.log(`  offline sends into the leaf outbox: ${(offlineMs / 1000).toFixed(2)} s (${Math.round(N / (offlineMs / 1000))} msg/s)`);
    console.log(`  hub restart: nats-server answering after ${(serverMs / 1000).toFixed(2)} s, control plane attached ${(attachMs / 1000).toFixed(2)} s later`);
    console.log(`  from the hub's nats-server answering until the exchange acknowledged all: ${(forwardedMs / 1000).toFixed(2)} s (${Math.round(N / (forwardedMs / 1000))} msg/s); forwarded ${s.forwarded}, duplicates ${s.duplicates}, refused ${s.refused}, restarts ${s.restarts}`);
    console.log(`  until the receiver handled all (verified, once, in order): ${(deliveredMs / 1000).toFixed(2)} s (${Math.round(N / (deliveredMs / 1000))} msg/s)`);
  } finally {
    await sender.close();
    await receiver.close();
    await leaf.stop();
    await fed.stop();
  }
}

runBounded('leaf', 300_000, main);
