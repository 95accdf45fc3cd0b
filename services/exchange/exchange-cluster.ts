/**
 * `liaison exchange up --cluster N`: the exchange on N local nats-servers clustered over loopback (JetStream R3 over
 * RAFT from three nodes), each with its own config, store and account resolver directory.
 */
import { mkdir } from 'node:fs/promises';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import type { Logger } from '../sdk/logging.ts';
import { ensureExchangeTls, renderServerConfig } from '../trust/index.ts';
import { attachExchange, type AttachedExchange, type ExchangeAuditOptions } from './exchange.ts';
import { startNatsCluster, type ClusterNodePlan, type NatsCluster } from './nats-cluster.ts';
import { clusterReplicas } from './replicas.ts';

/** A local clustered exchange: its nats-servers plus the control plane attached to all of them. */
export interface RunningClusterExchange extends AttachedExchange {
  cluster: NatsCluster;
  /** Resolves when every node has exited. */
  allExited: Promise<void>;
}

/** Options of {@link startClusterExchange}. */
export interface ClusterExchangeOptions {
  trustDir: string;
  /** Node I keeps its config and store in `storeDir/node-I`. */
  storeDir: string;
  catalog: TypeCatalog;
  /** Number of nats-servers (3 for R3). */
  nodes: number;
  host?: string;
  logger?: Logger;
  audit?: ExchangeAuditOptions;
  /** Plain TCP for clients and routes (loopback only). */
  plain?: boolean;
}

/** The operator-mode config of one local node (its routes to every node; TLS between routes unless `plain`). */
export function localNodeConfig(o: { trustDir: string; plain?: boolean }, node: ClusterNodePlan): string {
  return renderServerConfig({
    trustDir: o.trustDir,
    host: node.host,
    port: node.port,
    httpPort: node.httpPort,
    storeDir: node.storeDir,
    serverName: node.name,
    tls: !o.plain,
    cluster: { port: node.clusterPort, routes: node.routes },
  });
}

/**
 * Start N clustered nats-servers on free loopback ports (TLS from the federation CA unless `plain`), wait for the
 * JetStream meta leader, then attach the control plane to every node's URL with streams and buckets at
 * min(N, 3) replicas.
 */
export async function startClusterExchange(o: ClusterExchangeOptions): Promise<RunningClusterExchange> {
  const host = o.host ?? '127.0.0.1';
  await mkdir(o.storeDir, { recursive: true, mode: 0o700 });
  if (!o.plain) await ensureExchangeTls(o.trustDir, { hosts: [host] });
  const cluster = await startNatsCluster({ nodes: o.nodes, dir: o.storeDir, host, config: (node) => localNodeConfig(o, node), logger: o.logger });
  try {
    const attached = await attachExchange({ trustDir: o.trustDir, url: cluster.urls, catalog: o.catalog, logger: o.logger, audit: o.audit, plain: o.plain, replicas: clusterReplicas(o.nodes) });
    const stopAttached = attached.stop;
    const allExited = Promise.all(cluster.nodes.map((n) => n.process?.exited)).then(() => undefined);
    return Object.assign(attached, {
      cluster,
      allExited,
      async stop() {
        await stopAttached();
        await cluster.stop();
      },
    });
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
