import { applyBridge } from '../../bridge/apply.ts';
import { bridgeEndFromTrust, startBridge, type BridgeEnd } from '../../bridge/bridge.ts';
import { exportKit } from '../../bridge/kit.ts';
import { bridgeEndFromKit, checkKitPair, readKit } from '../../bridge/kit-end.ts';
import { revokeBridge } from '../../bridge/revoke.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/logging.ts';
import type { TypeCatalog } from '../../sdk/policy/index.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { need, str, type Command, type ParsedArgs } from '../args.ts';
import { exchangeUrlFor } from '../exchange-url.ts';

/**
 * `liaison bridge apply|revoke|export-kit|up` (issue 17, bridge design §4–7): put a signed cross-federation agreement in force
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

const exportKitCommand: Command = {
  path: ['bridge', 'export-kit'],
  summary: "write what this federation hands the bridge operator: its bridge users' creds (0600), its exchange's URLs and CA, the signed agreement",
  usage: 'liaison bridge export-kit --trust DIR --agreement ID --out DIR [--server URL] [--plain] [--json]',
  options: { trust: { type: 'string' }, agreement: { type: 'string' }, out: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['trust', 'agreement', 'out'],
  async run(args, io) {
    const trustDir = need(args, 'trust');
    const r = await exportKit({ trustDir, id: need(args, 'agreement'), url: exchangeUrlFor(trustDir, str(args, 'server')), plain: args.values.plain === true, out: need(args, 'out'), catalog: typeCatalogOf(loadCatalog()) });
    if (args.values.json) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`bridge kit of ${r.federation} for agreement ${r.agreement} in ${r.dir}: ${r.files.join(', ')} (hand it to the bridge operator: \`liaison bridge up --kit ${r.dir} --kit <the other side's kit>\`)`);
    return 0;
  },
};

/** Both ends of `bridge up`: from two kits (no trust dir), or from the two trust dirs (demos, tests). */
async function upEnds(args: ParsedArgs, catalog: TypeCatalog): Promise<{ id: string; a: BridgeEnd; b: BridgeEnd }> {
  const kits = args.values.kit;
  if (Array.isArray(kits) && kits.length > 0) {
    if (kits.length !== 2 || str(args, 'trust') !== undefined || str(args, 'peer-trust') !== undefined) throw new LiaisonError('ERR_USAGE', 'give exactly two --kit (one of each federation) and no --trust/--peer-trust');
    const [ka, kb] = [await readKit(String(kits[0]), { catalog }), await readKit(String(kits[1]), { catalog })];
    checkKitPair(ka, kb);
    const id = str(args, 'agreement');
    if (id !== undefined && id !== ka.agreement.id) throw new LiaisonError('ERR_USAGE', `the kits are of agreement ${ka.agreement.id}, not ${id}`);
    return { id: ka.agreement.id, a: bridgeEndFromKit(ka), b: bridgeEndFromKit(kb) };
  }
  const id = need(args, 'agreement');
  const plain = args.values.plain === true;
  const end = (trustDir: string, server: string | undefined) => bridgeEndFromTrust({ trustDir, url: exchangeUrlFor(trustDir, server), id, catalog, plain });
  return { id, a: await end(need(args, 'trust'), str(args, 'server')), b: await end(need(args, 'peer-trust'), str(args, 'peer-server')) };
}

const up: Command = {
  path: ['bridge', 'up'],
  summary: 'run the bridge of an applied agreement between two exchanges: both directions, original envelopes, acknowledged after the peer stored them',
  usage: 'liaison bridge up --kit DIR --kit DIR | --agreement ID --trust DIR --peer-trust DIR [--server URL] [--peer-server URL] [--plain]',
  options: { kit: { type: 'string', multiple: true }, agreement: { type: 'string' }, trust: { type: 'string' }, 'peer-trust': { type: 'string' }, server: { type: 'string' }, 'peer-server': { type: 'string' }, plain: { type: 'boolean' } },
  async run(args, io) {
    const { id, a, b } = await upEnds(args, typeCatalogOf(loadCatalog()));
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
export const BRIDGE_COMMANDS: Command[] = [apply, revoke, exportKitCommand, up];
