import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotProgressLine } from '../services/cli/commands/registry.ts';
import { Progress } from '../services/cli/progress.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { loadRegistryState, saveRegistryState, snapshotName, type SnapshotProgressEvent } from '../services/registry/persistence.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { fileSnapshotStore } from '../services/registry/snapshot-store.ts';
import { SnapshotMeter } from '../services/registry/snapshot-progress.ts';

const N = 200_000;
const REPORT = '0190a000-0000-7000-8000-000000000001';
const who = { agency: 'xc-ncb', replica: 1 };

/** Reports must count up strictly, stay within the totals, and end exactly at N records and the phase's bytes. */
function expectMonotoneToN(all: SnapshotProgressEvent[], phase: SnapshotProgressEvent['phase'], totalBytes: number, step: number): void {
  const events = all.filter((e) => e.phase === phase);
  expect(events.length).toBeGreaterThan(2); // reports along the way, not just the end
  for (const [i, e] of events.entries()) {
    expect(e.phase).toBe(phase);
    expect(e.total).toBe(N);
    expect(e.totalBytes).toBe(totalBytes);
    expect(e.records).toBeLessThanOrEqual(N);
    // Records done are the share of bytes done (sections are whole arrays, not records one by one).
    expect(e.records).toBe(Math.floor((N * e.bytes) / totalBytes));
    if (i > 0) {
      expect(e.records).toBeGreaterThan(events[i - 1]!.records);
      expect(e.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    }
  }
  // Reported every step (everyMs 0): the last report before the end is at most one step (a slice, chunk or write) short.
  expect(totalBytes - events.at(-2)!.bytes).toBeLessThanOrEqual(step);
  expect(events.filter((e) => e.records === N)).toHaveLength(1);
  expect(events.at(-1)).toMatchObject({ records: N, bytes: totalBytes });
}

describe('registry snapshot progress: a load or write of millions of records does not look hung', () => {
  let dir: string;
  const key = randomBytes(32);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-snapshot-progress-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`writing then loading a snapshot of ${N.toLocaleString('en')} records reports monotone counts ending at ${N.toLocaleString('en')}`, async () => {
    const store = new IndexDocumentStore(key);
    for (let i = 0; i < N; i++) store.upsert('XAA', `P${i}`, { status: 'STOLEN', type: 'PASSPORT', owner: 'xa-border-police', reference: REPORT });
    const snapshots = fileSnapshotStore(dir);
    const written: SnapshotProgressEvent[] = [];
    const saved = await saveRegistryState(snapshots, { store, persons: new PersonAlerts(createKeyedHasher(key)), positions: {} }, who, undefined, {
      onProgress: (e) => written.push(e),
      everyMs: 0,
    });
    expect(saved.manifest.documents).toBe(N);
    expect((await stat(join(dir, snapshotName(1)))).size).toBe(saved.bytes);
    // First the in-memory preparation (tables copied, then hashed with the references), then the write.
    const phases = written.map((e) => e.phase);
    expect(phases.lastIndexOf('prepare')).toBeLessThan(phases.indexOf('write'));
    const { index, references } = store.snapshotParts();
    const tables = index.tables();
    const tableBytes = [tables.hi, tables.lo, tables.seq, tables.owner, tables.meta, tables.check].reduce((n, a) => n + a.byteLength, 0);
    expectMonotoneToN(written, 'prepare', 2 * tableBytes + references.byteLength, 2 << 20);
    expectMonotoneToN(written, 'write', saved.bytes, 64 << 10);

    const read: SnapshotProgressEvent[] = [];
    const loaded = await loadRegistryState(snapshots, key, { ...who, consumers: new Set() }, { onProgress: (e) => read.push(e), everyMs: 0 });
    expect(loaded?.state.store.size).toBe(N);
    expectMonotoneToN(read, 'load', saved.bytes, 4 << 20);
  });

  it('a corrupt snapshot never reports the load as complete', async () => {
    const file = join(dir, snapshotName(1));
    const bytes = await readFile(file);
    bytes[bytes.length - 20]! ^= 1; // in the person section: caught by its digest after the documents were read
    await writeFile(file, bytes);
    const read: SnapshotProgressEvent[] = [];
    await expect(loadRegistryState(fileSnapshotStore(dir), key, { ...who, consumers: new Set() }, { onProgress: (e) => read.push(e), everyMs: 0 })).rejects.toMatchObject({
      code: 'ERR_DECODE',
    });
    expect(read.length).toBeGreaterThan(0);
    expect(read.some((e) => e.records === e.total)).toBe(false);
  });

  it('reports at a bounded rate: at most one per everyMs from the start, and the last always', () => {
    let now = 0;
    const seen: number[] = [];
    const meter = new SnapshotMeter('load', (e) => seen.push(e.records), { everyMs: 250, now: () => now });
    meter.bytes(10); // before the totals are known: nothing
    meter.setTotals(1000, 1000);
    for (let b = 1; b <= 1000; b++) {
      now += 1; // 1 ms per byte: 1000 ms in all
      meter.bytes(b);
    }
    meter.finish();
    expect(seen).toEqual([250, 500, 750, 1000]);
    // Work done within everyMs reports only its end.
    const quick: number[] = [];
    const fast = new SnapshotMeter('write', (e) => quick.push(e.records), { everyMs: 250, now: () => now });
    fast.setTotals(1000, 1000);
    for (let b = 1; b <= 1000; b++) fast.bytes(b);
    fast.finish();
    expect(quick).toEqual([1000]);
  });

  it('the CLI shows it as one self-overwriting line on a terminal, and nothing in a pipe', () => {
    const e: SnapshotProgressEvent = { phase: 'load', records: 1_234_567, total: 10_000_000, bytes: 12, totalBytes: 100 };
    expect(snapshotProgressLine(e)).toBe('loading snapshot: 1,234,567 of 10,000,000 records (12%)');
    expect(snapshotProgressLine({ ...e, phase: 'write' })).toMatch(/^writing snapshot: /);
    expect(snapshotProgressLine({ ...e, phase: 'prepare' })).toMatch(/^preparing snapshot: /);
    const tty: string[] = [];
    new Progress({ isTTY: true, write: (t) => tty.push(t) }).update(snapshotProgressLine(e));
    expect(tty).toEqual([`\r\x1b[2K${snapshotProgressLine(e)}`]);
    const pipe: string[] = [];
    new Progress({ isTTY: false, write: (t) => pipe.push(t) }).update(snapshotProgressLine(e));
    expect(pipe).toEqual([]);
  });
});
