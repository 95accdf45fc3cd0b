/**
 * Bulk import benchmark (issue 3, ¶16 bulk upload): CSV → signed DocumentReportBatch messages → JetStream →
 * the registry's verifying consumer → the compact keyed-hash index, end to end on loopback.
 *   (1) baseline in the same run: the raw index insert rate (normalise + keyed hash + insert into a
 *       DocumentIndex), the registry's own work per record with no CSV, no messages, no signatures;
 *   (2) IMPORT_BENCH_RECORDS (default 100 000) generated rows written to a temp CSV, imported with importCsv
 *       (batch IMPORT_BENCH_BATCH, default 1 000) into a registry started on the same nats-server; timed from
 *       opening the file to the last record applied by the registry (`stats.reports`).
 *   (2a) with the importer in this thread too (importer and registry share one core's thread);
 *   (2b) with the importer in a worker thread (this file again), as the agency's importer and the registry
 *        run in separate processes in a federation; the registry (this thread) starts empty again.
 * Prints records/s and the ratio to (1). Target ≥ 100 000 records/s. Bounded: fixed counts and a deadline.
 *
 * Run: npx node --expose-gc test/bench/registry-import.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { IndexDocumentStore } from '../../services/registry/index-store.ts';
import { createKeyedHasher, DocumentIndex, normaliseCountry, normaliseDocumentNumber } from '../../services/registry/index/index.ts';
import { importCsv, type ImportResult } from '../../services/registry/import/import.ts';
import { PersonAlerts } from '../../services/registry/persons.ts';
import { startRegistry } from '../../services/registry/service.ts';
import { createTestFederation } from '../support/federation.ts';

const N = Number(process.env.IMPORT_BENCH_RECORDS ?? 100_000);
const BATCH = Number(process.env.IMPORT_BENCH_BATCH ?? 1_000);
const WINDOW = Number(process.env.IMPORT_BENCH_WINDOW ?? 8);
const DEADLINE_MS = Number(process.env.IMPORT_BENCH_DEADLINE_MS ?? 120_000);
const STATUSES = ['stolen', 'lost', 'stolen', 'fraudulent', 'stolen', 'lost', 'recovered', 'cancelled'];
const TYPES = ['passport', 'passport', 'identity_card', 'passport', 'visa', 'residence_permit', 'passport', 'identity_card'];

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The i-th generated document number (unique; a scramble so the hash table sees no pattern). */
function numberOf(i: number): string {
  const scrambled = (Math.imul(i, 0x9e3779b1) >>> 0) ^ 0x5bd1e995;
  return `XA${i.toString(36).toUpperCase()}${(scrambled & 0xffff).toString(36).toUpperCase().padStart(4, '0')}`;
}

async function writeCsv(file: string): Promise<number> {
  const out = createWriteStream(file);
  out.write('document_number,issuing_country,document_type,status,holder_name,expiry_date,national_reference\r\n');
  for (let i = 0; i < N; i++) {
    const line = `${numberOf(i)},XAA,${TYPES[i & 7]},${STATUSES[(i >>> 3) & 7]},"Haddad, Amir ${i}",2031-0${1 + (i % 9)}-15,XA-REF-${i}\r\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

function baseline(): number {
  const index = new DocumentIndex({ hasher: createKeyedHasher(randomBytes(32)) });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    index.upsert({
      country: normaliseCountry('XAA'),
      number: normaliseDocumentNumber(numberOf(i)),
      type: TYPES[i & 7] as 'passport',
      status: STATUSES[(i >>> 3) & 7] as 'stolen',
      owner: 'xa-border-police',
      seq: i,
    });
  }
  return N / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`registry import bench: ${fmt(N)} rows, batch ${fmt(BATCH)}, window ${WINDOW}, node ${process.version}`);
  const work = await mkdtemp(join(tmpdir(), 'liaison-import-bench-'));
  const fed = await createTestFederation({ agencies: ['xa-border-police', 'xc-ncb'], name: 'import-bench' });
  try {
    baseline(); // warm-up
    const rawRate = baseline();
    console.log(`(1) raw index insert (normalise + keyed hash + insert), ${fmt(N)}: ${fmt(rawRate)} /s`);

    const file = join(work, 'export.csv');
    const bytes = await writeCsv(file);
    console.log(`    CSV ${(bytes / 1e6).toFixed(1)} MB, ${fmt(N)} rows`);
    for (const mode of ['same thread', 'importer in a worker thread'] as const) {
      const ncb = await fed.connect('xc-ncb', { replica: 1 });
      const key = randomBytes(32);
      const registry = await startRegistry({ client: ncb, store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
      let t0 = performance.now();
      let result: ImportResult;
      if (mode === 'same thread') {
        const police = await fed.connect('xa-border-police');
        result = await importCsv({ client: police, file, batchSize: BATCH, window: WINDOW });
        await police.close();
      } else {
        result = await new Promise<ImportResult>((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { agencyDir: fed.agencyDirs['xa-border-police'], url: fed.server.url, file } });
          // The clock starts when the worker (connected, modules loaded) opens the file.
          w.on('message', (m: ImportResult & { error?: string; start?: boolean }) => {
            if (m.start) t0 = performance.now();
            else if (m.error) reject(new Error(m.error));
            else resolve(m);
          });
          w.once('error', reject);
        });
      }
      const sentMs = performance.now() - t0;
      while (registry.stats.reports < result.imported) {
        if (performance.now() - started > DEADLINE_MS) throw new Error(`import bench: over ${DEADLINE_MS} ms with ${registry.stats.reports} of ${result.imported} applied`);
        await new Promise((r) => setTimeout(r, 2));
      }
      const totalMs = performance.now() - t0;
      const e2e = result.imported / (totalMs / 1000);
      console.log(`(2${mode === 'same thread' ? 'a' : 'b'}) ${mode}: ${fmt(result.imported)} imported, ${result.bad.length} bad, ${fmt(result.batches)} signed batches`);
      console.log(`    sender done (every batch stored by JetStream) in ${(sentMs / 1000).toFixed(2)} s = ${fmt(result.imported / (sentMs / 1000))} records/s`);
      console.log(`    end to end (CSV → registry index, last record applied) in ${(totalMs / 1000).toFixed(2)} s = ${fmt(e2e)} records/s`);
      console.log(`    = ${(e2e / rawRate).toFixed(2)} × raw index insert rate (1); target ≥ 100 000 records/s: ${e2e >= 100_000 ? 'met' : 'NOT met'}`);
      if (registry.store.size !== N) throw new Error(`import bench: index holds ${registry.store.size} records, expected ${N}`);
      await registry.stop();
      await ncb.close();
    }
  } finally {
    await fed.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (isMainThread) {
  await main();
  process.exit(0);
} else {
  // Worker: the sending agency's importer, on its own thread.
  const job = workerData as { agencyDir: string; url: string; file: string };
  try {
    const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.url] });
    parentPort!.postMessage({ start: true });
    const result = await importCsv({ client, file: job.file, batchSize: BATCH, window: WINDOW });
    await client.close();
    parentPort!.postMessage(result);
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
  }
}
