/**
 * `node test/bench/acks-cluster.bench.ts` (issue 16; opt-in, not in `npm run bench`): acks.bench.ts's Liaison comparison
 * on a three-node cluster, where every consumer is R3 and each acknowledgement is a RAFT proposal of its consumer's
 * group: the receive with its acks as now vs thinned to one AckAll per 64 (consumer re-created AckPolicy.All), from a
 * backlog (r)/(r64) and streaming (e)/(e64); rounds alternate, medians. CPU figures are node 1's (the one the
 * receiver and publisher use). Bounded: every run has a timeout, the whole an overall limit; the cluster is stopped.
 */
import os from 'node:os';
import { createClusterFederation, examplePolicyFor, type ClusterFederation } from '../support/cluster-federation.ts';
import type { TestFederation } from '../support/federation.ts';
import { liaisonRun, type Run } from './acks.bench.ts';
import { withTimeout } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';

const ROUNDS = Number(process.env.BENCH_ACKS_ROUNDS ?? 3);
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';

/** What acks.bench.ts needs of a federation, from a cluster one: node 1's URL and pid, the exchange's admin connection. */
function asTarget(fed: ClusterFederation): TestFederation {
  const node = fed.cluster.nodes[0]!;
  return { connect: fed.connect, agencyDirs: fed.agencyDirs, exchange: fed.exchange, server: { url: node.url, pid: node.process?.pid } } as unknown as TestFederation;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  console.log(`acks cluster bench: ${os.availableParallelism()} cores (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}); ${ROUNDS} rounds`);
  const cluster = await createClusterFederation({ agencies: [SENDER, RECEIVER], policyText: await examplePolicyFor([SENDER, RECEIVER]), name: 'acks-cluster', audit: false });
  try {
    const fed = asTarget(cluster);
    const keys = ['r', 'r64', 'e', 'e64'] as const;
    const variants = { r: { k: 1, backlog: true }, r64: { k: 64, backlog: true }, e: { k: 1, backlog: false }, e64: { k: 64, backlog: false } };
    const runs = Object.fromEntries(keys.map((k) => [k, [] as Run[]])) as Record<(typeof keys)[number], Run[]>;
    for (let i = 0; i < ROUNDS; i++) {
      for (const key of [...keys.slice(i % keys.length), ...keys.slice(0, i % keys.length)]) {
        try {
          runs[key].push(await withTimeout(liaisonRun(fed, variants[key]), 300_000, `cluster ${key}`));
        } catch (err) {
          console.log(`  cluster ${key}: no figure (${(err as Error).message})`);
        }
      }
      console.log(`  round ${i + 1}: ${keys.map((k) => `${k} ${(runs[k][i]?.rate.rate ?? NaN).toFixed(0)}`).join('  ')} msg/s (load ${os.loadavg()[0]!.toFixed(1)})`);
    }
    const m = (k: (typeof keys)[number]) => median(runs[k].map((r) => r.rate.rate));
    const cpu = (k: (typeof keys)[number]) => `${median(runs[k].map((r) => r.rate.cpu.receiver)).toFixed(0)} + ${median(runs[k].map((r) => r.rate.cpu.server)).toFixed(0)} µs`;
    for (const k of keys) console.log(`(${k.padEnd(3)}) 3-node R3, ${k.startsWith('r') ? 'backlog  ' : 'streaming'} ${k.endsWith('64') ? 'AckAll per 64' : 'acks as now  '} ${m(k).toFixed(0).padStart(6)} msg/s   CPU/msg receiver + node 1 ${cpu(k)}`);
    console.log(`ratio (r64)/(r) ${(m('r64') / m('r')).toFixed(3)}; (e64)/(e) ${(m('e64') / m('e')).toFixed(3)}   (≥ 1.10 would justify coalescing)`);
  } finally {
    await cluster.stop();
  }
}

runBounded('acks-cluster', 25 * 60_000, main);
