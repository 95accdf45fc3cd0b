import { writeFile } from 'node:fs/promises';
import { composeReport, DEFAULT_PERIOD_MS } from '../../centre/report.ts';
import { REPORT_FORMATS, renderReport } from '../../centre/render.ts';
import { startCentre } from '../../centre/service.ts';
import { CorrelationStore } from '../../centre/store.ts';
import { derivedUuidv7 } from '../../sdk/ids.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/logging.ts';
import { agencyBuckets } from '../../sdk/policy/index.ts';
import { inboxPrefix } from '../../sdk/subjects.ts';
import { int, str, type Command } from '../args.ts';
import { connectAs } from '../connect.ts';

const DAY_MS = 86_400_000;

const centreUp: Command = {
  path: ['centre', 'up'],
  summary: 'run the multiagency centre (¶17): correlate what agencies share, alert each at its tier, publish strategic reports',
  usage:
    'liaison centre up --as AGENCY_DIR [--report-every-hours H] [--period-days D] [--min-public-count N] [--alert-window-ms MS] [--alert-cap N] [--server URL] — the agency’s roles must send CorrelationAlert and ' +
    'StrategicReport and keep state: { kv: [correlations] }; --report-every-hours 0 publishes reports only on demand; ' +
    '--alert-window-ms (default 250; 0 sends every alert at once) is how long an alert waits for a newer one about the same value to the same recipient, ' +
    '--alert-cap (default 512) how many alerts may wait at once',
  options: {
    as: { type: 'string' },
    'report-every-hours': { type: 'string' },
    'period-days': { type: 'string' },
    'min-public-count': { type: 'string' },
    'alert-window-ms': { type: 'string' },
    'alert-cap': { type: 'string' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const alertWindowMs = int(args, 'alert-window-ms', 0, 60_000);
    const alertCap = int(args, 'alert-cap', 1, 100_000);
    const logger = createLogger({ name: 'centre' });
    const client = await connectAs(args, logger);
    const hours = int(args, 'report-every-hours', 0, 24 * 366) ?? 24;
    const centre = await startCentre({
      client,
      logger,
      reportEveryMs: hours * 3_600_000,
      reportPeriodMs: (int(args, 'period-days', 1, 3660) ?? DEFAULT_PERIOD_MS / DAY_MS) * DAY_MS,
      minPublicCount: int(args, 'min-public-count', 1, 1000),
      alertWindowMs,
      alertCap,
    });
    io.out(`multiagency centre up as ${client.id}; ${hours ? `a strategic report every ${hours} h` : 'reports on demand only'}; Ctrl-C stops it`);
    await io.interrupted;
    await centre.stop();
    await client.close();
    io.out(`centre stopped: ${JSON.stringify(centre.stats)}`);
    return 0;
  },
};

const centreReport: Command = {
  path: ['centre', 'report'],
  summary: 'a strategic report from the centre’s correlation state: counts and trends by route, nationality, document type, month, modus operandi',
  usage:
    'liaison centre report --as AGENCY_DIR [--format json|csv|html] [--out FILE] [--period-days D] [--min-public-count N] [--publish] [--server URL] — ' +
    'AGENCY_DIR is the centre’s (it reads its correlations bucket); --publish also broadcasts it as a StrategicReport to the roles the policy permits',
  options: {
    as: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    'period-days': { type: 'string' },
    'min-public-count': { type: 'string' },
    publish: { type: 'boolean' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const format = str(args, 'format') ?? 'json';
    if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new LiaisonError('ERR_USAGE', `--format must be one of ${REPORT_FORMATS.join(', ')}, got "${format}"`);
    const periodMs = (int(args, 'period-days', 1, 3660) ?? DEFAULT_PERIOD_MS / DAY_MS) * DAY_MS;
    const client = await connectAs(args);
    try {
      const bucket = agencyBuckets(client.policy, client.id).find((b) => b.kind === 'kv' && b.name === 'correlations');
      if (!bucket) throw new LiaisonError('ERR_CONFIG_INVALID', `${client.id} keeps no correlations bucket: run the report as the multiagency centre (a role with state: { kv: [correlations] })`);
      // As the service opens it (its writer and read gate): a scan awaiting an answer when the connection drops fails
      // at once ("connection lost"), one asked for while it is down waits for the reconnect; never nats.js's timeout.
      const store = await CorrelationStore.open(client.nc, bucket.bucket, { inboxPrefix: inboxPrefix(client.id) });
      const periodEnd = Date.now();
      const { figures, body } = await composeReport(store, { agency: client.id, periodEnd, periodMs, minPublicCount: int(args, 'min-public-count', 1, 1000) });
      const text = renderReport(format, figures, body);
      const out = str(args, 'out');
      if (out) {
        await writeFile(out, text, { mode: 0o600 });
        io.out(`wrote ${format} report to ${out}: ${figures.sourceMessages.count} source messages, ${figures.linksTotal.count} new tactical links`);
      } else io.out(text.replace(/\n$/, ''));
      if (args.values.publish) {
        const receipt = await client.send('StrategicReport', body, { id: derivedUuidv7(periodEnd, 'strategic-report', client.id, 'cli') });
        const to = receipt.copies.map((c) => `${c.tier}: ${c.recipients.join(', ')}`).join('; ');
        (out ? io.out : io.err)(`published StrategicReport ${receipt.id} (${to})`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};

/** The `liaison centre …` commands. */
export const CENTRE_COMMANDS: readonly Command[] = [centreUp, centreReport];
