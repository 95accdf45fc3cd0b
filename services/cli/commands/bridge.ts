import { applyBridge } from '../../bridge/apply.ts';
import { bridgeEndFromTrust, startBridge } from '../../bridge/bridge.ts';
import { revokeBridge } from '../../bridge/revoke.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { createLogger } from '../../sdk/logging.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { need, str, type Command } from '../args.ts';
import { exchangeUrlFor } from '../exchange-url.ts';

/**
 * `liaison bridge apply|revoke|up` (issue 17, bridge design §4–7): put a signed cross-federation agreement in force
 * on one federation's exchange, take it out again, and run the bridge process between two exchanges.
 *
 * @module
 */

/** How often `bridge up` logs its counters (ms). */
const REPORT_EVERY_MS = 10_000;

const apply: Command = {
  path: ['bridge', 'apply'],
  summary: 'put a cross-federation agreement signed by both roots in force on this exchange: export consumers, bridge users (creds in TRUST_DIR/bridges/<id>/), directory',
  usage: 'liaison bridge apply --trust DIR --agreement SIGNED [--server URL] [--plain] [--json]',
  options: { trust: { type: 'string' }, agreement: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['trust', 'agreement'],
  async run(args, io) {
    const trustDir = need(args, 'trust');
    const r = await applyBridge({ trustDir, url: exchangeUrlFor(trustDir, str(args, 'server')), plain: args.values.plain === true, signed: need(args, 'agreement'), catalog: typeCatalogOf(loadCatalog()) });
    if (args.values.json) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`agreement ${r.id} with ${r.peer} in force: ${r.consumers.length} export consumer(s), senders re-issued: ${r.senders.join(', ') || 'none needed'}`);
    io.out(`bridge users: ${r.exportCreds}, ${r.importCreds} (0600; for \`liaison bridge up\`)`);
    for (const i of r.issues) io.out(`  issue: ${i}`);
    return 0;
  },
};

const revoke: Command = {
  path: ['bridge', 'revoke'],
  summary: 'take an agreement out of force on this exchange (either side alone): out of the directory, bridge users cut, senders re-issued',
  usage: 'liaison bridge revoke --trust DIR --agreement ID [--server URL] [--plain] [--json]',
  options: { trust: { type: 'string' }, agreement: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['trust', 'agreement'],
  async run(args, io) {
    const trustDir = need(args, 'trust');
    const r = await revokeBridge({ trustDir, url: exchangeUrlFor(trustDir, str(args, 'server')), plain: args.values.plain === true, id: need(args, 'agreement'), catalog: typeCatalogOf(loadCatalog()) });
    if (args.values.json) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`agreement ${r.id} revoked: ${r.revokedUsers.length} bridge user(s) cut, ${r.consumers.length} export consumer(s) deleted, senders re-issued: ${r.senders.join(', ') || 'none needed'}`);
    return 0;
  },
};

const up: Command = {
  path: ['bridge', 'up'],
  summary: 'run the bridge of an applied agreement between two exchanges: both directions, original envelopes, acknowledged after the peer stored them',
  usage: 'liaison bridge up --agreement ID --trust DIR --peer-trust DIR [--server URL] [--peer-server URL] [--plain]',
  options: { agreement: { type: 'string' }, trust: { type: 'string' }, 'peer-trust': { type: 'string' }, server: { type: 'string' }, 'peer-server': { type: 'string' }, plain: { type: 'boolean' } },
  required: ['agreement', 'trust', 'peer-trust'],
  async run(args, io) {
    const id = need(args, 'agreement');
    const catalog = typeCatalogOf(loadCatalog());
    const plain = args.values.plain === true;
    const end = (trustDir: string, server: string | undefined) => bridgeEndFromTrust({ trustDir, url: exchangeUrlFor(trustDir, server), id, catalog, plain });
    const a = await end(need(args, 'trust'), str(args, 'server'));
    const b = await end(need(args, 'peer-trust'), str(args, 'peer-server'));
    const logger = createLogger({ name: 'bridge' });
    const bridge = await startBridge({ a, b, logger });
    io.out(`bridge ${id} up between ${a.federation} (${a.servers.join(',')}) and ${b.federation} (${b.servers.join(',')}); Ctrl-C stops it`);
    const timer = setInterval(() => logger.info(bridge.stats(), 'bridge'), REPORT_EVERY_MS);
    try {
      await io.interrupted;
    } finally {
      clearInterval(timer);
      await bridge.stop();
    }
    io.out('bridge stopped');
    return 0;
  },
};

/** The bridge runtime commands (the agreement's own are in bridge-agreement.ts). */
export const BRIDGE_COMMANDS: Command[] = [apply, revoke, up];
