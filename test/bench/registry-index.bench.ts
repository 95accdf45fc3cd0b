/**
 * Registry index benchmark (issue 3, ¶16): the pure in-memory document index, no NATS.
 *   (1) baselines in the same run: raw HMAC-SHA256 rate (the keyed hash every record needs) and a plain JS
 *       `Map<bigint, number>` insert rate, 1 M records each;
 *   (2) load REGISTRY_BENCH_RECORDS (default 10 M) generated document records, streamed (never held as objects),
 *       through the full path (normalise, keyed hash, insert): insert rate and memory per record
 *       (Δ heapUsed + Δ external after a forced GC; `external` already includes `arrayBuffers`);
 *   (3) checks: lookup rate (full path and hash-only), p50/p99 of single lookups (hrtime);
 *   (4) snapshot write to a file and load back (restart time), with a sample compared after load.
 * Targets: ≤ 64 B/record, ≥ 100 000 inserts/s, snapshot load < 15 s. Bounded: fixed counts, ~1–2 min on 2 cores.
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DocumentIndex,
  createKeyedHasher,
  readDocumentSnapshotFile,
  writeDocumentSnapshotFile,
  type DocumentStatus,
  type DocumentType,
} from '../../services/registry/index/index.ts';

const N = Number(process.env.REGISTRY_BENCH_RECORDS ?? 10_000_000);
const N_BASE = Math.min(N, 1_000_000);
const N_LOOKUP = Math.min(N, 1_000_000);
const N_LATENCY = Math.min(N, 300_000);
const DEADLINE_MS = Number(process.env.REGISTRY_BENCH_DEADLINE_MS ?? 170_000);
const COUNTRIES = ['XAA', 'XBB', 'XCC', 'FRA', 'ITA', 'GRC', 'TUR', 'NGA'];
const STATUSES: DocumentStatus[] = ['stolen', 'lost', 'stolen', 'fraudulent', 'stolen', 'lost', 'recovered', 'cancelled'];
const TYPES: DocumentType[] = ['passport', 'passport', 'passport', 'identity_card', 'visa', 'residence_permit', 'passport', 'identity_card'];
const OWNERS = COUNTRIES.map((c) => `${c.toLowerCase()}-document-authority`);

const gc: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return () => {};
  }
})();

const started = performance.now();
function checkDeadline(what: string): void {
  if (performance.now() - started > DEADLINE_MS) throw new Error(`registry bench: over ${DEADLINE_MS} ms at ${what}; lower REGISTRY_BENCH_RECORDS`);
}

/** The i-th generated document: country and number derive from i (a bijective scramble, so numbers are unique). */
function countryOf(i: number): string {
  return COUNTRIES[i & 7]!;
}
function numberOf(i: number): string {
  const scrambled = (Math.imul(i, 0x9e3779b1) >>> 0) ^ 0x5bd1e995;
  return `${countryOf(i)[0]}${(i >>> 3).toString(36).toUpperCase()}${(scrambled & 0xffff).toString(36).toUpperCase().padStart(4, '0')}`;
}

function memory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function pct(sorted: BigInt64Array | Float64Array, p: number): number {
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (count: number, ms: number): number => count / (ms / 1000);

async function main(): Promise<void> {
  console.log(`registry index bench: ${fmt(N)} records, node ${process.version}`);
  const key = randomBytes(32);
  const hasher = createKeyedHasher(key);

  // (1) baselines
  const secret = createSecretKey(key);
  let t = performance.now();
  let sink = 0;
  for (let i = 0; i < N_BASE; i++) sink ^= createHmac('sha256', secret).update(`${countryOf(i)}|${numberOf(i)}`).digest()[0]!;
  const hmacRate = rate(N_BASE, performance.now() - t);
  const map = new Map<bigint, number>();
  t = performance.now();
  for (let i = 0; i < N_BASE; i++) map.set(BigInt(Math.imul(i, 0x9e3779b1) >>> 0) * 4294967296n + BigInt(i), i);
  const mapRate = rate(N_BASE, performance.now() - t);
  map.clear();
  const baseHashes = Array.from({ length: N_BASE }, (_, i) => hasher.document(countryOf(i), numberOf(i)));
  const tableOnly = new DocumentIndex({ hasher });
  t = performance.now();
  for (let i = 0; i < N_BASE; i++) tableOnly.upsertHashed(baseHashes[i]!, { type: 'passport', status: 'stolen', owner: OWNERS[i & 7]!, seq: i });
  const tableRate = rate(N_BASE, performance.now() - t);
  baseHashes.length = 0;
  console.log(`(1a) baseline raw HMAC-SHA256 (KeyObject), ${fmt(N_BASE)}: ${fmt(hmacRate)} /s`);
  console.log(`(1b) baseline JS Map<bigint, number> insert, ${fmt(N_BASE)}: ${fmt(mapRate)} /s`);
  console.log(`(1c) DocumentIndex.upsertHashed (table only, precomputed hashes), ${fmt(N_BASE)}: ${fmt(tableRate)} /s = ${(tableRate / mapRate).toFixed(2)} × (1b)`);
  checkDeadline('baselines');

  // (2) load
  const before = memory();
  const index = new DocumentIndex({ hasher });
  t = performance.now();
  for (let i = 0; i < N; i++) {
    index.upsert({ country: countryOf(i), number: numberOf(i), type: TYPES[(i >>> 3) & 7]!, status: STATUSES[(i >>> 6) & 7]!, owner: OWNERS[i & 7]!, seq: i });
    if ((i & 0xfffff) === 0) checkDeadline(`insert ${i}`);
  }
  const loadMs = performance.now() - t;
  const insertRate = rate(N, loadMs);
  if (index.size !== N) throw new Error(`expected ${N} records, index holds ${index.size}`);
  const after = memory();
  const perRecord = (after - before) / N;
  console.log(`(2) load ${fmt(N)} records (normalise + HMAC + insert, growing from empty): ${(loadMs / 1000).toFixed(1)} s, ${fmt(insertRate)} /s`);
  console.log(`    = ${(insertRate / hmacRate).toFixed(2)} × raw HMAC rate, ${(insertRate / mapRate).toFixed(2)} × Map<bigint> insert rate (target ≥ 100 000 /s)`);
  console.log(`    memory: Δ(heapUsed + external) = ${fmt(after - before)} B → ${perRecord.toFixed(1)} B/record (target ≤ 64); ` +
    `index.memoryBytes() ${(index.memoryBytes() / N).toFixed(1)} B/record; capacity ${fmt(index.capacity)}, load ${(index.size / index.capacity).toFixed(2)}`);
  checkDeadline('load');

  // (3) lookups: half present, half absent
  const pick = (k: number): number => (Math.imul(k, 0x2545f491) >>> 0) % N;
  let hits = 0;
  t = performance.now();
  for (let k = 0; k < N_LOOKUP; k++) {
    const i = pick(k);
    const r = k & 1 ? index.lookup(countryOf(i), numberOf(i)) : index.lookup('ESP', numberOf(i));
    if (r) hits++;
  }
  const lookupRate = rate(N_LOOKUP, performance.now() - t);
  if (hits !== N_LOOKUP >> 1) throw new Error(`expected ${N_LOOKUP >> 1} found, got ${hits}`);
  const hashes = Array.from({ length: 100_000 }, (_, k) => index.hashOf(countryOf(pick(k)), numberOf(pick(k))));
  t = performance.now();
  for (let r = 0; r < 10; r++) for (const h of hashes) if (index.lookupHashed(h)) sink++;
  const hashedRate = rate(hashes.length * 10, performance.now() - t);
  const lat = new Float64Array(N_LATENCY);
  for (let k = 0; k < N_LATENCY; k++) {
    const i = pick(k + N_LOOKUP);
    const c = countryOf(i);
    const n = numberOf(i);
    const t0 = process.hrtime.bigint();
    index.lookup(c, n);
    lat[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  lat.sort();
  console.log(`(3) lookups, one thread: ${fmt(lookupRate)} /s full path (normalise + HMAC + probe; ${(lookupRate / hmacRate).toFixed(2)} × raw HMAC), ` +
    `${fmt(hashedRate)} /s hash-only probe`);
  console.log(`    single lookup latency (${fmt(N_LATENCY)} timed): p50 ${pct(lat, 50).toFixed(2)} µs, p99 ${pct(lat, 99).toFixed(2)} µs, max ${lat[lat.length - 1]!.toFixed(0)} µs`);
  checkDeadline('lookups');

  // (4) snapshot
  const dir = await mkdtemp(join(tmpdir(), 'registry-bench-'));
  try {
    const path = join(dir, 'documents.snap');
    t = performance.now();
    await writeDocumentSnapshotFile(path, index, { streamSequence: BigInt(N) });
    const writeMs = performance.now() - t;
    const bytes = (await stat(path)).size;
    gc();
    t = performance.now();
    const loaded = await readDocumentSnapshotFile(path, hasher);
    const readMs = performance.now() - t;
    for (let k = 0; k < 10_000; k++) {
      const i = pick(k * 7 + 3);
      const a = JSON.stringify(index.lookup(countryOf(i), numberOf(i)));
      const b = JSON.stringify(loaded.index.lookup(countryOf(i), numberOf(i)));
      if (a !== b) throw new Error(`snapshot answer differs for record ${i}: ${a} vs ${b}`);
    }
    console.log(`(4) snapshot of ${fmt(loaded.records)} records, ${(bytes / 1e6).toFixed(0)} MB: write ${(writeMs / 1000).toFixed(2)} s, ` +
      `load (read + SHA-256 + checks) ${(readMs / 1000).toFixed(2)} s (target < 15 s); 10 000 sampled answers identical`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`registry bench done in ${((performance.now() - started) / 1000).toFixed(1)} s${sink === -1 ? '' : ''}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
