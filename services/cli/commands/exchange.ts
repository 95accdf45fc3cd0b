import { join } from 'node:path';
import { startExchange } from '../../exchange/exchange.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { createLogger } from '../../sdk/logging.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { ensureExchangeTls, renderServerConfig } from '../../trust/index.ts';
import { int, need, str, type Command } from '../args.ts';
import { rememberExchangeUrl } from '../exchange-url.ts';

const exchangeUp: Command = {
  path: ['exchange', 'up'],
  summary: 'start the exchange: operator-mode nats-server, streams, consumers, directory service',
  usage: 'liaison exchange up --dir TRUST_DIR [--host 127.0.0.1] [--port 4222] [--store DIR] [--plain] [--leaf-port 7422]',
  options: { dir: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, store: { type: 'string' }, plain: { type: 'boolean' }, 'leaf-port': { type: 'string' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const logger = createLogger({ name: 'exchange' });
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

const exchangeConfig: Command = {
  path: ['exchange', 'config'],
  summary: 'print the operator-mode nats-server config of a federation',
  usage: 'liaison exchange config --dir TRUST_DIR [--host 127.0.0.1] [--port 4222] [--store DIR] [--plain] [--leaf-port 7422]',
  options: { dir: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, store: { type: 'string' }, plain: { type: 'boolean' }, 'leaf-port': { type: 'string' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
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

export const EXCHANGE_COMMANDS: Command[] = [exchangeUp, exchangeConfig];
