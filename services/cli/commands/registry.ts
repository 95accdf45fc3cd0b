import { createLogger } from '../../sdk/logging.ts';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../../sdk/errors.ts';
import { FINAL_SNAPSHOT_WITHIN_MS, runRegistry } from '../../registry/run.ts';
import type { SnapshotProgressEvent } from '../../registry/snapshot-progress.ts';
import { importCsv, MAX_BATCH_SIZE } from '../../registry/import/import.ts';
import { int, need, str, type Command } from '../args.ts';
import { connectAs } from '../connect.ts';
import { formatGroups, groupErrors } from '../error-groups.ts';
import { Progress } from '../progress.ts';
import { STOP_BOUND_MS } from '../signals.ts';
import { registryStats } from './registry-stats.ts';

const SNAPSHOT_VERBS = { load: 'loading', prepare: 'preparing', write: 'writing' } as const;

/** The progress line of a snapshot load or write: `loading snapshot: 1,234,567 of 10,000,000 records (12%)`. */
export const snapshotProgressLine = (p: SnapshotProgressEvent): string =>
  `${SNAPSHOT_VERBS[p.phase]} snapshot: ${p.records.toLocaleString('en')} of ${p.total.toLocaleString('en')} records (${p.totalBytes ? Math.floor((100 * p.bytes) / p.totalBytes) : 100}%)`;

/** Of the CLI's stop bound, what is kept for the process to exit once the connection is closed. */
const EXIT_MARGIN_MS = 700;

const registryUp: Command = {
  path: ['registry', 'up'],
  summary: 'run the ¶16 registry (documents and person alerts) as an agency that serves the checks',
  usage:
    'liaison registry up --as AGENCY_DIR [--replica K] [--state DIR] [--snapshot-every SECONDS] [--stats-every SECONDS] [--max-checks N] [--max-check-wait-ms MS] [--server URL] — ' +
    'snapshots go to the agency’s object store (policy state: { objects: [snapshots] }) or, without one, to --state; the hashing key stays in --state',
  options: {
    as: { type: 'string' },
    replica: { type: 'string' },
    state: { type: 'string' },
    'snapshot-every': { type: 'string' },
    'stats-every': { type: 'string' },
    'max-checks': { type: 'string' },
    'max-check-wait-ms': { type: 'string' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const logger = createLogger({ name: 'registry' });
    const dir = need(args, 'as');
    const replica = int(args, 'replica', 1, 8) ?? 1;
    const stateDir = str(args, 'state') ?? join(dir, replica > 1 ? `registry-state-r${replica}` : 'registry-state');
    const every = int(args, 'snapshot-every', 1, 86_400) ?? 60;
    const statsEvery = int(args, 'stats-every', 1, 3_600) ?? 10;
    const admission = { maxInProcess: int(args, 'max-checks', 1, 1_000_000), maxWaitMs: int(args, 'max-check-wait-ms', 10, 60_000) };
    const client = await connectAs(args, logger);
    const progress = new Progress();
    const registry = await runRegistry({
      client,
      stateDir,
      snapshotEveryMs: every * 1000,
      figuresEveryMs: statsEvery * 1000,
      admission,
      logger,
      onSnapshotProgress: (p) => (p.records < p.total ? progress.update(snapshotProgressLine(p)) : progress.done()),
    });
    progress.done(); // a refused snapshot stops its load short of the end
    const r = registry.restored;
    const where = registry.snapshotStore.where;
    if (r.snapshotRefused) io.out(`registry up as ${client.id}: the snapshot in ${where} was refused (${r.snapshotRefused}); replaying all ${r.replayed.length} consumers from the start`);
    else io.out(`registry up as ${client.id}: ${r.documents} documents and ${r.persons} person alerts from the snapshot in ${where}, ${r.replayed.length} consumers replaying their tail`);
    io.out(`answering DocumentCheckRequest and PersonCheckRequest; snapshot every ${every} s and on stop, figures every ${statsEvery} s (liaison registry stats); Ctrl-C stops it`);
    await io.interrupted;
    // Within the stop bound: the final snapshot by 2.5 s after the signal, then the close with what is left (less 0.7 s to exit).
    const signalled = Date.now();
    const stopped = await registry.stop({ by: signalled + FINAL_SNAPSHOT_WITHIN_MS });
    await client.close({ boundMs: signalled + STOP_BOUND_MS - EXIT_MARGIN_MS - Date.now() });
    io.out(`registry stopped (final snapshot ${stopped.snapshot === 'written' ? 'written' : `skipped: ${stopped.skipped ?? ''}`}): ${JSON.stringify(registry.stats)}`);
    return 0;
  },
};

const checkDocument: Command = {
  path: ['check-document'],
  summary: 'check a travel document against the registry (prints hit / no hit)',
  usage: 'liaison check-document --as AGENCY_DIR --country ICAO --number N [--type T] [--location L] [--json]',
  options: {
    as: { type: 'string' },
    country: { type: 'string' },
    number: { type: 'string' },
    type: { type: 'string' },
    location: { type: 'string' },
    json: { type: 'boolean' },
    server: { type: 'string' },
  },
  required: ['as', 'country', 'number'],
  async run(args, io) {
    const client = await connectAs(args);
    try {
      const type = str(args, 'type');
      const reply = await client.request('DocumentCheckRequest', {
        documentNumber: need(args, 'number'),
        issuingCountry: need(args, 'country'),
        ...(type ? { documentType: `DOCUMENT_TYPE_${type.toUpperCase()}` } : {}),
        ...(str(args, 'location') ? { checkLocation: str(args, 'location') } : {}),
      });
      if (args.values.json) io.out(JSON.stringify({ id: reply.header.id, from: reply.header.sender, tier: reply.header.tier, ...reply.body }));
      else {
        const b = reply.body;
        const hit = b.outcome === 'CHECK_OUTCOME_HIT';
        io.out(`${hit ? 'HIT' : 'no hit'}: ${need(args, 'country').toUpperCase()} ${need(args, 'number')}${b.status ? ` — ${String(b.status).replace('DOCUMENT_STATUS_', '').toLowerCase()}` : ''}`);
        if (hit) io.out(`  record ${String(b.recordReference)} (owner ${String(b.recordOwnerCountry)}); ${String(b.instructions ?? '')}`);
        io.out(`  answered by ${reply.header.sender}, signed, bound to this request (${reply.header.requestHash})`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};

const registryImport: Command = {
  path: ['registry', 'import'],
  summary: 'bulk-upload a national registry export (CSV) to the registry in signed batches',
  usage:
    'liaison registry import --as AGENCY_DIR --csv FILE [--batch N] [--to REGISTRY] [--errors-file FILE] [--json] [--server URL] — CSV with a header row: ' +
    'document_number,issuing_country,document_type,status[,issue_date,expiry_date,holder_name,holder_birth_date,holder_nationality,place,remarks,national_reference]',
  options: { as: { type: 'string' }, csv: { type: 'string' }, batch: { type: 'string' }, to: { type: 'string' }, 'errors-file': { type: 'string' }, json: { type: 'boolean' }, server: { type: 'string' } },
  required: ['as', 'csv'],
  async run(args, io) {
    const batchSize = int(args, 'batch', 1, MAX_BATCH_SIZE) ?? 1_000;
    const file = need(args, 'csv');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new LiaisonError('ERR_USAGE', `--csv ${file}: no such file`);
    const client = await connectAs(args);
    try {
      const progress = new Progress();
      const t0 = performance.now();
      const r = await importCsv({
        client,
        file,
        batchSize,
        to: str(args, 'to'),
        onProgress: (p) => progress.update(`importing ${file}: ${p.imported.toLocaleString('en')} rows stored in ${p.batches} batches (${Math.round(p.imported / ((performance.now() - t0) / 1000 || 1)).toLocaleString('en')} rows/s), ${p.bad} bad`),
      }).finally(() => progress.done());
      const errorsFile = str(args, 'errors-file');
      if (errorsFile) await writeFile(errorsFile, r.bad.map((b) => `line ${b.line}: ${b.error}\n`).join(''));
      if (args.values.json) io.out(JSON.stringify(r));
      else {
        const rate = r.seconds > 0 ? Math.round(r.imported / r.seconds) : r.imported;
        io.out(`imported ${r.imported} of ${r.rows} rows in ${r.batches} signed batches to ${r.to} (${r.seconds.toFixed(2)} s, ${rate} rows/s); ${r.bad.length} bad rows`);
        // Bad rows grouped by reason (count and first lines), not printed one by one; --errors-file has every line.
        for (const line of formatGroups(groupErrors(r.bad))) io.out(line);
        if (r.bad.length > 0) io.out(errorsFile ? `every bad row: ${errorsFile}` : 'every bad row with its line: --errors-file FILE');
        if (r.imported > 0) io.out(`the registry refuses records of another issuing country by line, in a signed RegistryRefusal to ${client.id}`);
      }
      return r.imported > 0 ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};

export const REGISTRY_COMMANDS: Command[] = [registryUp, checkDocument, registryImport, registryStats];
