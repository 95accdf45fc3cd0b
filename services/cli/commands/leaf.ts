import { startLeaf } from '../../edge/leaf.ts';
import { createLogger } from '../../sdk/logging.ts';
import { int, need, str, type Command } from '../args.ts';
import { agencyServersFor } from '../exchange-url.ts';

/** How often `leaf up` reports the forwarder's progress on a terminal (ms). */
const REPORT_EVERY_MS = 10_000;

const leafUp: Command = {
  path: ['leaf', 'up'],
  summary: "start the agency's own leaf node: its services connect to it; sends are kept while the exchange is unreachable and forwarded in order",
  usage: 'liaison leaf up --as AGENCY_DIR [--port 4223] [--hub URL] [--server URL]',
  options: { as: { type: 'string' }, port: { type: 'string' }, hub: { type: 'string' }, server: { type: 'string' } },
  required: ['as'],
  async run(args, io) {
    const agencyDir = need(args, 'as');
    const logger = createLogger({ name: 'leaf' });
    const leaf = await startLeaf({
      agencyDir,
      port: int(args, 'port', 1, 65535),
      hubUrl: str(args, 'hub'),
      servers: agencyServersFor(str(args, 'server')),
      logger,
    });
    io.out(`leaf node of ${leaf.agencyId} up at ${leaf.url} (link to ${leaf.hubUrl}; nats-server pid ${leaf.server.pid})`);
    io.out(`the agency's services connect to ${leaf.url} (SDK: connectViaLeaf); Ctrl-C stops it, the outbox stays for the next start`);
    const timer = setInterval(() => {
      const s = leaf.forwarder.stats;
      logger.info({ online: s.online, forwarded: s.forwarded, duplicates: s.duplicates, refused: s.refused, nextSeq: s.nextSeq }, 'leaf forwarder');
    }, REPORT_EVERY_MS);
    try {
      await Promise.race([io.interrupted, leaf.server.exited]);
    } finally {
      clearInterval(timer);
      await leaf.stop();
    }
    io.out('leaf node stopped');
    return 0;
  },
};

export const LEAF_COMMANDS: Command[] = [leafUp];
