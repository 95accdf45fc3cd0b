/**
 * A NATS cluster of local nats-server processes (loopback ports, one store each): `liaison exchange up --cluster N`
 * and the test fixture. Each node's config comes from the caller; this module picks ports, spawns, waits for the
 * JetStream meta leader, and kills or restarts single nodes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { freePort, spawnNatsServer, type NatsProcess } from './nats-process.ts';

/** Where one node listens and keeps its files. */
export interface ClusterNodePlan {
  /** 1-based. */
  index: number;
  /** `server_name` (unique in the cluster). */
  name: string;
  host: string;
  port: number;
  /** Route listener. */
  clusterPort: number;
  /** Monitoring (HTTP) port: how readiness is observed (`/jsz`). */
  httpPort: number;
  storeDir: string;
  configFile: string;
  url: string;
  /** `host:clusterPort` of every node, this one included. */
  routes: string[];
}

/** A running node: its plan and its current process (replaced by a restart). */
export interface ClusterNode extends ClusterNodePlan {
  process: NatsProcess | undefined;
}

/** A running local cluster. */
export interface NatsCluster {
  nodes: ClusterNode[];
  /** Client URL of every node. */
  urls: string[];
  /** SIGKILL node `index` (a crash) and wait for its exit. */
  kill(index: number): Promise<void>;
  /** Start node `index` again on its config and store (after {@link NatsCluster.kill} or a stop). */
  restart(index: number): Promise<void>;
  /** Stop every node (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** Options for {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Number of nodes (3 for JetStream R3). */
  nodes: number;
  /** Directory under which each node gets `node-I/` (store and config). */
  dir: string;
  host?: string;
  /** Server name prefix; node I is `<prefix>-I` (default `liaison`). */
  namePrefix?: string;
  /** The config file text of one node. */
  config: (node: ClusterNodePlan) => string;
  logger?: Logger;
  /** How long to wait for the JetStream meta leader (default 60 s). */
  readyTimeoutMs?: number;
}

/** Ports and paths of `n` nodes on free loopback ports. */
export async function planNatsCluster(o: { nodes: number; dir: string; host?: string; namePrefix?: string }): Promise<ClusterNodePlan[]> {
  if (!Number.isInteger(o.nodes) || o.nodes < 2 || o.nodes > 9) throw new LiaisonError('ERR_USAGE', `a local cluster has 2 to 9 nodes (3 for JetStream R3), got ${o.nodes}`, { nodes: o.nodes });
  const host = o.host ?? '127.0.0.1';
  const ports: number[] = [];
  while (ports.length < o.nodes * 3) {
    const p = await freePort(host);
    if (!ports.includes(p)) ports.push(p);
  }
  const routes = Array.from({ length: o.nodes }, (_, i) => `${host}:${ports[i * 3 + 1]}`);
  return Array.from({ length: o.nodes }, (_, i) => {
    const nodeDir = join(o.dir, `node-${i + 1}`);
    const port = ports[i * 3]!;
    return {
      index: i + 1,
      name: `${o.namePrefix ?? 'liaison'}-${i + 1}`,
      host,
      port,
      clusterPort: ports[i * 3 + 1]!,
      httpPort: ports[i * 3 + 2]!,
      storeDir: join(nodeDir, 'store'),
      configFile: join(nodeDir, 'nats-server.conf'),
      url: `nats://${host}:${port}`,
      routes,
    };
  });
}

/** The meta leader's server name as node `plan` sees it (its `/jsz`), or undefined while there is none. */
export async function metaLeaderSeenBy(plan: Pick<ClusterNodePlan, 'host' | 'httpPort'>): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${plan.host}:${plan.httpPort}/jsz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { meta_cluster?: { leader?: string } };
    return body.meta_cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}

/** Wait until every node in `plans` sees the same JetStream meta leader (ERR_EXCHANGE after `timeoutMs`). */
export async function waitForMetaLeader(plans: readonly Pick<ClusterNodePlan, 'host' | 'httpPort' | 'name'>[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await Promise.all(plans.map((p) => metaLeaderSeenBy(p)));
    if (seen[0] !== undefined && seen.every((s) => s === seen[0])) return seen[0];
    if (Date.now() > deadline) {
      const views = plans.map((p, i) => `${p.name}: ${seen[i] ?? 'none'}`).join(', ');
      throw new LiaisonError('ERR_EXCHANGE', `the cluster elected no JetStream meta leader within ${timeoutMs} ms (${views})`, {});
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function spawnNode(node: ClusterNodePlan, logger: Logger | undefined): Promise<NatsProcess> {
  return await spawnNatsServer({ configFile: node.configFile, host: node.host, port: node.port, logger, readyTimeoutMs: 30_000 });
}

/**
 * Start `o.nodes` nats-servers as one cluster: each node's config written to `dir/node-I/nats-server.conf`, all
 * spawned at once (a clustered JetStream waits for its peers), then wait until every node sees one meta leader.
 * A failure stops whatever started.
 */
export async function startNatsCluster(o: NatsClusterOptions): Promise<NatsCluster> {
  const plans = await planNatsCluster(o);
  const nodes: ClusterNode[] = plans.map((p) => ({ ...p, process: undefined }));
  for (const n of nodes) {
    await mkdir(n.storeDir, { recursive: true, mode: 0o700 });
    await writeFile(n.configFile, o.config(n), { mode: 0o600 });
  }
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.process?.stop()));
  };
  try {
    const started = await Promise.allSettled(nodes.map(async (n) => (n.process = await spawnNode(n, o.logger))));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await waitForMetaLeader(nodes, o.readyTimeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  const nodeAt = (index: number): ClusterNode => {
    const n = nodes[index - 1];
    if (!n) throw new LiaisonError('ERR_USAGE', `the cluster has no node ${index} (1 to ${nodes.length})`, { index });
    return n;
  };
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async kill(index) {
      const n = nodeAt(index);
      const p = n.process;
      if (!p) return;
      process.kill(p.pid, 'SIGKILL');
      await p.exited;
      n.process = undefined;
    },
    async restart(index) {
      const n = nodeAt(index);
      await n.process?.stop();
      n.process = await spawnNode(n, o.logger);
    },
    stop,
  };
}
