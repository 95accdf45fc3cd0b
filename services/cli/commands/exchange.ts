import { join } from 'node:path';
import { startExchange } from '../../exchange/exchange.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { createLogger } from '../../sdk/logging.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { ensureExchangeTls, renderServerConfig } from '../../trust/index.ts';
import { int, need, str, type CliIo, type Command, type ParsedArgs } from '../args.ts';
import { startClusterExchange } from '../../exchange/exchange-cluster.ts';
import { attachExchange } from '../../exchange/exchange.ts';
import { clusterReplicas, MAX_REPLICAS } from '../../exchange/replicas.ts';
import { serverList } from '../../sdk/client/nats-tls.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/logging.ts';
import { exchangeUrlFor, rememberExchangeUrl } from '../exchange-url.ts';
import { exchangeReconcile } from './exchange-reconcile.ts';

const exchangeUp: Command = {
  path: ['exchange', 'up'],
  summary: 'start the exchange: operator-mode nats-server, streams, consumers, directory service',
  usage: 'liaison exchange up --dir TRUST_DIR [--host 127.0.0.1] [--port 4222] [--store DIR] [--plain] [--leaf-port 7422] [--cluster N]',
  options: { dir: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, store: { type: 'string' }, plain: { type: 'boolean' }, 'leaf-port': { type: 'string' }, cluster: { type: 'string' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const logger = createLogger({ name: 'exchange' });
    if (args.values.cluster !== undefined) return await clusterUp(args, io, dir, logger);
    const ex = await startExchange({
      trustDir: dir,
      storeDir: str(args, 'store') ?? join(dir, 'store'),
      host: str(args, 'host') ?? '127.0.0.1',
      port: int(args, 'port', 1, 65535) ?? 4222,
      catalog: typeCatalogOf(loadCatalog()),
      logger,
      plain: args.values.plain === true,
      leafPort: int(args, 'leaf-port', 1, 65535),
    });
    await rememberExchangeUrl(dir, ex.url);
    const wire = args.values.plain === true ? 'plain TCP, loopback only' : 'TLS, certificate from the federation CA';
    io.out(`exchange up at ${ex.url} (${wire}; nats-server pid ${ex.server.pid}, config ${ex.configFile})`);
    const leafPort = int(args, 'leaf-port', 1, 65535);
    if (leafPort !== undefined) io.out(`agency leaf nodes connect to ${args.values.plain === true ? 'nats-leaf' : 'tls'}://${str(args, 'host') ?? '127.0.0.1'}:${leafPort} (\`liaison leaf up --as AGENCY_DIR\`)`);
    io.out(`policy "${ex.policy.name}" ${ex.policy.hash}: ${ex.provisioned.streams.length} streams, ${ex.provisioned.consumers.length} consumers`);
    io.out('Ctrl-C stops it.');
    await Promise.race([io.interrupted, ex.server.exited]);
    await ex.stop();
    io.out('exchange stopped');
    return 0;
  },
};

/** `exchange up --cluster N`: N local nats-servers clustered over loopback, the control plane on all of them. */
async function clusterUp(args: ParsedArgs, io: CliIo, dir: string, logger: Logger): Promise<number> {
  for (const flag of ['port', 'leaf-port'] as const) {
    if (args.values[flag] !== undefined) throw new LiaisonError('ERR_USAGE', `--${flag} does not go with --cluster: each node takes free loopback ports (for fixed ports on real hosts: exchange config --cluster)`);
  }
  const ex = await startClusterExchange({
    trustDir: dir,
    storeDir: str(args, 'store') ?? join(dir, 'store'),
    host: str(args, 'host') ?? '127.0.0.1',
    nodes: int(args, 'cluster', 2, 9)!,
    catalog: typeCatalogOf(loadCatalog()),
    logger,
    plain: args.values.plain === true,
  });
  await rememberExchangeUrl(dir, ex.url);
  io.out(`exchange up on ${ex.cluster.nodes.length} clustered nats-servers, streams and buckets at ${ex.replicas} replicas (${args.values.plain === true ? 'plain TCP, loopback only' : 'TLS for clients and routes, certificate from the federation CA'}):`);
  for (const n of ex.cluster.nodes) io.out(`  ${n.name}  ${n.url}  routes :${n.clusterPort}  pid ${n.process?.pid}  config ${n.configFile}`);
  io.out(`clients connect with --server ${ex.url}`);
  io.out(`policy "${ex.policy.name}" ${ex.policy.hash}: ${ex.provisioned.streams.length} streams, ${ex.provisioned.consumers.length} consumers`);
  io.out('Ctrl-C stops it.');
  await Promise.race([io.interrupted, ex.allExited]);
  await ex.stop();
  io.out('exchange stopped');
  return 0;
}

/** `exchange config --cluster HOST,HOST,... --node I`: node I's config of a cluster on real hosts. */
async function clusterConfig(args: ParsedArgs, io: CliIo, dir: string): Promise<number> {
  const hosts = need(args, 'cluster').split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length < 2) throw new LiaisonError('ERR_USAGE', `--cluster names every node's host, comma-separated (at least 2; 3 for JetStream R3), got ${JSON.stringify(str(args, 'cluster'))}`);
  if (args.values['leaf-port'] !== undefined) throw new LiaisonError('ERR_USAGE', '--leaf-port does not go with --cluster');
  const node = int(args, 'node', 1, hosts.length);
  if (node === undefined) throw new LiaisonError('ERR_USAGE', `--cluster needs --node I: which of the ${hosts.length} hosts this config is for (1 to ${hosts.length})`);
  const plain = args.values.plain === true;
  const clusterPort = int(args, 'cluster-port', 1, 65535) ?? DEFAULT_CLUSTER_PORT;
  // One certificate for every node: it names each host (clients and routes verify it), clientAuth for the routes.
  if (!plain) await ensureExchangeTls(dir, { hosts });
  io.out(
    renderServerConfig({
      trustDir: dir,
      host: hosts[node - 1]!,
      port: int(args, 'port', 1, 65535) ?? 4222,
      storeDir: str(args, 'store') ?? join(dir, 'store'),
      serverName: `liaison-${node}`,
      tls: !plain,
      cluster: { port: clusterPort, routes: hosts.map((h) => `${h}:${clusterPort}`) },
    }),
  );
  return 0;
}

/** The route port of `exchange config --cluster` (NATS's conventional cluster port). */
const DEFAULT_CLUSTER_PORT = 6222;

const exchangeConfig: Command = {
  path: ['exchange', 'config'],
  summary: 'print the operator-mode nats-server config of a federation (one node of a cluster with --cluster)',
  usage: 'liaison exchange config --dir TRUST_DIR [--host 127.0.0.1] [--port 4222] [--store DIR] [--plain] [--leaf-port 7422] [--cluster HOST,HOST,HOST --node I [--cluster-port 6222]]',
  options: {
    dir: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    store: { type: 'string' },
    plain: { type: 'boolean' },
    'leaf-port': { type: 'string' },
    cluster: { type: 'string' },
    node: { type: 'string' },
    'cluster-port': { type: 'string' },
  },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    if (args.values.cluster !== undefined) return await clusterConfig(args, io, dir);
    const host = str(args, 'host') ?? '127.0.0.1';
    const plain = args.values.plain === true;
    if (!plain) await ensureExchangeTls(dir, { hosts: [host] });
    io.out(
      renderServerConfig({
        trustDir: dir,
        host,
        port: int(args, 'port', 1, 65535) ?? 4222,
        storeDir: str(args, 'store') ?? join(dir, 'store'),
        tls: !plain,
        ...(int(args, 'leaf-port', 1, 65535) === undefined ? {} : { leafnodes: { port: int(args, 'leaf-port', 1, 65535)! } }),
      }),
    );
    return 0;
  },
};

const exchangeAttach: Command = {
  path: ['exchange', 'attach'],
  summary: "run the exchange's control plane against nats-servers already running (the nodes of a cluster on other hosts)",
  usage: 'liaison exchange attach --dir TRUST_DIR --server nats://HOST1:4222,nats://HOST2:4222,nats://HOST3:4222 [--replicas 3] [--plain]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, replicas: { type: 'string' }, plain: { type: 'boolean' } },
  required: ['dir', 'server'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const url = exchangeUrlFor(dir, need(args, 'server'));
    const ex = await attachExchange({
      trustDir: dir,
      url,
      catalog: typeCatalogOf(loadCatalog()),
      logger: createLogger({ name: 'exchange' }),
      plain: args.values.plain === true,
      replicas: int(args, 'replicas', 1, MAX_REPLICAS) ?? clusterReplicas(serverList(url).length),
    });
    await rememberExchangeUrl(dir, ex.url);
    io.out(`exchange attached to ${ex.url}: streams and buckets at ${ex.replicas} replicas`);
    io.out(`policy "${ex.policy.name}" ${ex.policy.hash}: ${ex.provisioned.streams.length} streams, ${ex.provisioned.consumers.length} consumers`);
    io.out('Ctrl-C stops it (the nats-servers keep running).');
    await io.interrupted;
    await ex.stop();
    io.out('exchange stopped');
    return 0;
  },
};

export const EXCHANGE_COMMANDS: Command[] = [exchangeUp, exchangeConfig, exchangeAttach, exchangeReconcile];
