import { checkAgency } from '../../doctor/agency.ts';
import { checkFederation } from '../../doctor/federation.ts';
import type { Finding } from '../../doctor/finding.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { str, type Command } from '../args.ts';
import { agencyServersFor, exchangeUrlFor } from '../exchange-url.ts';

const MARK = { ok: 'ok  ', warning: 'WARN', error: 'FAIL' } as const;

const doctor: Command = {
  path: ['doctor'],
  summary: 'check a federation (--dir) or an agency (--as) and say what to do about each problem',
  usage: 'liaison doctor (--dir TRUST_DIR [--server URL] [--plain] | --as AGENCY_DIR [--server URL]) [--json]',
  options: { dir: { type: 'string' }, as: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  async run(args, io) {
    const dir = str(args, 'dir');
    const as = str(args, 'as');
    if (Boolean(dir) === Boolean(as)) throw new LiaisonError('ERR_USAGE', `give --dir TRUST_DIR or --as AGENCY_DIR (usage: ${doctor.usage})`);
    const server = str(args, 'server');
    const findings: Finding[] = dir
      ? await checkFederation({ dir, server: exchangeUrlFor(dir, server), plain: args.values.plain === true, catalog: typeCatalogOf(loadCatalog()) })
      : await checkAgency({ dir: as!, ...(agencyServersFor(server) ? { servers: agencyServersFor(server)! } : {}) });
    if (args.values.json) io.out(JSON.stringify(findings));
    else {
      for (const f of findings) {
        io.out(`${MARK[f.status]}  ${f.check.padEnd(20)} ${f.detail}`);
        if (f.fix && f.status !== 'ok') io.out(`      ${''.padEnd(20)} → ${f.fix}`);
      }
      const errors = findings.filter((f) => f.status === 'error').length;
      const warnings = findings.filter((f) => f.status === 'warning').length;
      io.out(errors || warnings ? `${errors} problem(s), ${warnings} warning(s)` : 'no problems found');
    }
    return findings.some((f) => f.status === 'error') ? 1 : 0;
  },
};

export const DOCTOR_COMMANDS: readonly Command[] = [doctor];
