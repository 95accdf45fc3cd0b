import { join } from 'node:path';
import { readRegistryFigures, type RegistryFigures } from '../../registry/figures.ts';
import { defaultSnapshotStore } from '../../registry/run.ts';
import { need, str, type Command } from '../args.ts';
import { connectAs } from '../connect.ts';

const mb = (bytes: number) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One replica's figures as the lines `liaison registry stats` prints. */
export function formatRegistryFigures(f: RegistryFigures, now: number = Date.now()): string[] {
  const age = Math.max(0, Math.round((now - Date.parse(f.updatedAt)) / 1000));
  const stale = age * 1000 > 3 * f.everyMs ? ' — STALE: this replica has stopped updating its figures (down?)' : '';
  const kinds = Object.entries(f.documents.byKindAndStatus)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([kind, byStatus]) => `${kind} ${Object.entries(byStatus).map(([s, n]) => `${s} ${n}`).join(', ')}`);
  const c = f.counters;
  const lines = [
    `${f.agency} registry replica ${f.replica}: figures of ${f.updatedAt} (${age} s ago, rewritten every ${Math.round(f.everyMs / 1000)} s)${stale}`,
    `  documents  ${f.documents.total}${kinds.length ? ` — ${kinds.join('; ')}` : ''}`,
    `  persons    ${plural(f.persons, 'alert')}`,
    `  since ${f.startedAt}: ${plural(c.checks, 'check')} answered, ${plural(c.hits, 'hit')} (${plural(c.hitNotices, 'hit notice')} sent to owners), ${c.busy ? `${plural(c.busy, 'check')} refused busy, ` : ''}${plural(c.refused, 'refusal')}; applied ${plural(c.reports, 'report')} (${c.unchanged} unchanged), ${plural(c.statusChanges, 'status change')}, ${plural(c.alerts, 'person alert')}`,
    `  restored   ${f.restored.snapshotRefused ? `nothing: snapshot refused (${f.restored.snapshotRefused}); full replay` : !f.restored.fromSnapshot ? 'nothing: no snapshot yet; full replay' : `${f.restored.documents} documents and ${f.restored.persons} person alerts from the snapshot${f.restored.loadMs !== undefined ? ` in ${f.restored.loadMs} ms` : ''}`}, ${plural(f.restored.replayed, 'consumer')} replayed`,
  ];
  if (f.lastSnapshot) {
    const s = f.lastSnapshot;
    const pos = Object.entries(s.positions).filter(([, seq]) => seq > 0).map(([consumer, seq]) => `${consumer}@${seq}`);
    lines.push(`  snapshot   ${s.at} in ${f.snapshotStore}: ${s.documents} documents, ${s.persons} person alerts, ${mb(s.bytes)} (${s.ms} ms); covers ${pos.length ? pos.join(', ') : 'no message yet'}`);
  } else lines.push(`  snapshot   none yet (${f.snapshotStore})`);
  const m = f.memory;
  lines.push(`  memory     index ${mb(m.indexBytes)} = ${m.bytesPerRecord} B/document record; process rss ${mb(m.rssBytes)}, heap ${mb(m.heapUsedBytes)}, buffers ${mb(m.externalBytes)}`);
  return lines;
}

/** `liaison registry stats`: the figures each running registry replica writes next to its snapshot. */
export const registryStats: Command = {
  path: ['registry', 'stats'],
  summary: "print the registry's figures (records by kind and status, checks, hits, refusals, last snapshot, memory) per replica",
  usage: 'liaison registry stats --as AGENCY_DIR [--state DIR] [--json] [--server URL] — the agency that runs the registry; its replicas write their figures to its snapshot store',
  options: { as: { type: 'string' }, state: { type: 'string' }, json: { type: 'boolean' }, server: { type: 'string' } },
  required: ['as'],
  async run(args, io) {
    const client = await connectAs(args);
    try {
      const store = await defaultSnapshotStore(client, str(args, 'state') ?? join(need(args, 'as'), 'registry-state'));
      const all = await readRegistryFigures(store);
      if (args.values.json) {
        io.out(JSON.stringify(all));
        return all.length > 0 ? 0 : 1;
      }
      if (all.length === 0) {
        io.err(`no registry figures in ${store.where}: has \`liaison registry up --as ${need(args, 'as')}\` run?`);
        return 1;
      }
      for (const f of all) for (const line of formatRegistryFigures(f)) io.out(line);
      return 0;
    } finally {
      await client.close();
    }
  },
};
