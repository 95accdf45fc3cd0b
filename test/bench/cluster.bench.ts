/**
 * `npm run bench` (issue 16): the exchange on a three-node cluster (JetStream R3 over RAFT, TLS for clients and
 * between routes) against one nats-server, in the same run on the same machine (ratios are the figures):
 *   (s) signed end-to-end rate, publish → verified receive (liaison-rate.ts, the receiver's handled record on);
 *   (l) p50/p99 end-to-end latency at a steady rate;
 *   (f) time from a node's death (SIGKILL of the stream leader) to the first acknowledged publish.
 * Bounded: fixed counts, a timeout on every phase; a phase that fails is reported as a figure ("failed: …"), not a
 * crash; every server is stopped at the end.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { createClusterFederation, examplePolicyFor, type ClusterFederation } from '../support/cluster-federation.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import { liaisonRate, withTimeout, type LiaisonRate } from './liaison-rate.ts';

const N = Number(process.env.BENCH_CLUSTER_N ?? 10_000);
const LAT_RATE = Number(process.env.BENCH_CLUSTER_RATE ?? 500);
const LAT_SECONDS = Number(process.env.BENCH_CLUSTER_SECONDS ?? 10);
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const BODY = { summary: 'Fishing vessel intercepted 40 nm south of Port Xandria with 61 persons on board.', migrantsCount: 61, assessment: 'Same organiser network as the October interceptions.' };

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** What liaison-rate.ts needs of a federation, from a cluster one: the publisher worker connects to node 1, the pid is node 1's. */
function asRateTarget(fed: ClusterFederation): TestFederation {
  const node = fed.cluster.nodes[0]!;
  return { connect: fed.connect, agencyDirs: fed.agencyDirs, server: { url: node.url, pid: node.process?.pid } } as unknown as TestFederation;
}

/** One federation's figures. */
interface Figures {
  rate?: number;
  p50?: number;
  p99?: number;
  failed: string[];
}

async function measure(label: string, fed: TestFederation): Promise<Figures> {
  const out: Figures = { failed: [] };
  const run = (o: { count: number; rate?: number }): Promise<LiaisonRate> =>
    withTimeout(liaisonRate(fed, { sender: SENDER, receiver: RECEIVER, type: TYPE, body: BODY, to: RECEIVER, stampField: 'recommendedAction', ...o }), 240_000, `${label} liaison-rate`);
  try {
    out.rate = (await run({ count: N })).rate;
    console.log(`${label} (s) signed end to end: ${out.rate.toFixed(0)} msg/s`);
  } catch (err) {
    out.failed.push(`(s) ${(err as Error).message}`);
  }
  try {
    const l = await run({ count: LAT_RATE * LAT_SECONDS, rate: LAT_RATE });
    out.p50 = pct(l.latencies, 50);
    out.p99 = pct(l.latencies, 99);
    console.log(`${label} (l) at ${LAT_RATE} msg/s for ${LAT_SECONDS} s: p50 ${out.p50.toFixed(2)} ms, p99 ${out.p99.toFixed(2)} ms`);
  } catch (err) {
    out.failed.push(`(l) ${(err as Error).message}`);
  }
  for (const f of out.failed) console.log(`${label} failed: ${f}`);
  return out;
}

/** (f): SIGKILL the leader of the burst type's stream, then send one message at a time until one is acknowledged. */
async function deathToPublish(fed: ClusterFederation): Promise<number> {
  const police = await fed.connect(SENDER);
  const receiver = await fed.connect(RECEIVER);
  const stream = receiver.consumerSpecs([TYPE])[0]!.stream;
  const jsm = await jetstreamManager(fed.exchange.admin);
  await police.send(TYPE, BODY, { to: RECEIVER });
  const leader = (await jsm.streams.info(stream)).cluster?.leader;
  const index = fed.cluster.indexOf(leader ?? '');
  await fed.cluster.kill(index);
  const t0 = Date.now();
  for (;;) {
    try {
      await police.send(TYPE, BODY, { to: RECEIVER });
      const ms = Date.now() - t0;
      await fed.cluster.restart(index);
      return ms;
    } catch {
      if (Date.now() - t0 > 60_000) throw new Error('no publish acknowledged within 60 s of the node death');
    }
  }
}

const policyText = await examplePolicyFor([SENDER, RECEIVER]);
console.log(`cluster bench: ${N} signed messages, then ${LAT_RATE} msg/s for ${LAT_SECONDS} s; single node first, then three nodes (R3)`);
const single = await createTestFederation({ agencies: [SENDER, RECEIVER], policyText, name: 'bench-single' });
let one: Figures;
try {
  one = await measure('single node', single);
} finally {
  await single.stop();
}
const cluster = await createClusterFederation({ agencies: [SENDER, RECEIVER], policyText, name: 'bench-cluster', audit: false });
let three: Figures;
let failoverMs = Number.NaN;
try {
  three = await measure('3-node R3', asRateTarget(cluster));
  try {
    failoverMs = await withTimeout(deathToPublish(cluster), 120_000, 'failover');
    console.log(`3-node R3 (f) stream leader SIGKILLed → first acknowledged publish: ${failoverMs} ms`);
  } catch (err) {
    console.log(`3-node R3 (f) failed: ${(err as Error).message}`);
  }
} finally {
  await cluster.stop();
}
const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? (a / b).toFixed(2) : 'n/a');
console.log(`cluster/single: rate ${ratio(three.rate, one.rate)}×, p50 ${ratio(three.p50, one.p50)}×, p99 ${ratio(three.p99, one.p99)}×; failover ${failoverMs} ms`);
