/**
 * `liaison exchange reconcile`: the full reconcile (services/exchange/full-reconcile.ts) from the CLI — the command
 * `liaison doctor` names for stray consumers. One run: it says what it deleted and made, and exits 0.
 *
 * @module
 */
import { reconcileExchangeFully, type FullReconcileReport } from '../../exchange/full-reconcile.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { need, str, type CliIo, type Command } from '../args.ts';
import { exchangeUrlFor } from '../exchange-url.ts';

/** `N consumer(s)` in words. */
const consumers = (n: number) => `${n} consumer${n === 1 ? '' : 's'}`;

/** The report as lines: what was reconciled, then what was removed and what was made, counted and named. */
function printReport(io: CliIo, url: string, r: FullReconcileReport): void {
  io.out(`full reconcile of ${url} with policy ${r.policyHash.slice(0, 16)}…: ${r.streams.length} streams, ${consumers(r.consumers.length)}, ${r.buckets.length} buckets at ${r.replicas ?? 1} replica(s)`);
  io.out(`removed ${consumers(r.removedConsumers.length)} no policy grants${r.removedConsumers.length ? `: ${r.removedConsumers.join(', ')}` : ''}`);
  const made = r.changedConsumers ?? [];
  io.out(`made or changed ${consumers(made.length)}${made.length ? `: ${made.join(', ')}` : ''}`);
}

/** The full reconcile command. */
export const exchangeReconcile: Command = {
  path: ['exchange', 'reconcile'],
  summary: "the full reconcile: list every stream's consumers, delete the durable ones no policy grants (strays made outside Liaison), make what the policy compiles and is missing",
  usage: 'liaison exchange reconcile --dir TRUST_DIR [--server URL1,URL2,URL3] [--plain] [--json]',
  options: { dir: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' }, json: { type: 'boolean' } },
  required: ['dir'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const url = exchangeUrlFor(dir, str(args, 'server'));
    const report = await reconcileExchangeFully({ trustDir: dir, url, catalog: typeCatalogOf(loadCatalog()), plain: args.values.plain === true });
    if (args.values.json) io.out(JSON.stringify(report));
    else printReport(io, url, report);
    return 0;
  },
};
