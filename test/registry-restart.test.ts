import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCsv } from '../services/registry/import/import.ts';
import type { SnapshotProgressEvent } from '../services/registry/persistence.ts';
import { runRegistry } from '../services/registry/run.ts';
import { objectSnapshotStore, type SnapshotStore } from '../services/registry/snapshot-store.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};

const report = (number: string) => ({ documentNumber: number, issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' });

describe('registry restart: snapshot + replay of only the tail gives the same answers', () => {
  let fed: TestFederation;
  let stateDir: string;
  let police: LiaisonClient;
  let checker: LiaisonClient;
  let before: string[];

  const objectBytes = async (store: SnapshotStore, name: string) => {
    const blob = await store.get(name);
    if (!blob) return undefined;
    const chunks: Uint8Array[] = [];
    for await (const c of blob.chunks) chunks.push(c);
    return Buffer.concat(chunks);
  };

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-restart' });
    stateDir = await mkdtemp(join(tmpdir(), 'liaison-registry-state-'));
    police = await fed.connect('xa-border-police');
    checker = await fed.connect('xb-police');
  });
  afterAll(async () => {
    await fed?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const answers = async () => {
    const docs = await Promise.all(
      ['XA1000001', 'XA1000002', 'XA1000003', 'XA9999999'].map(async (n) => {
        const r = await checker.request('DocumentCheckRequest', { documentNumber: n, issuingCountry: 'XAA' });
        return `${n}:${String(r.body.outcome)}:${String(r.body.status ?? '')}:${String(r.body.recordReference ?? '')}`;
      }),
    );
    const person = await checker.request('PersonCheckRequest', { subject: { name: { givenNames: 'Yusuf', familyName: 'Karimov' }, birthDate: '1979-07-01' } });
    return [...docs, `person:${String(person.body.outcome)}:${String(person.body.alertReference ?? '')}`];
  };

  it('after a crash, the restarted registry loads the snapshot from the object store, replays the tail, and answers as before', async () => {
    const ncb1 = await fed.connect('xc-ncb');
    const progress: SnapshotProgressEvent[] = [];
    const logLines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const r1 = await runRegistry({ client: ncb1, stateDir, logger, onSnapshotProgress: (p) => progress.push(p), snapshotProgressEveryMs: 0 });
    expect(r1.restored.documents).toBe(0);
    expect(r1.snapshotStore.where).toBe('object store xc-ncb_snapshots');
    await police.send('DocumentReport', report('XA1000001'));
    await police.send('DocumentReport', report('XA1000002'));
    await police.send('PersonAlert', { alertReference: 'XA-PA-7', subject: { name: { givenNames: 'Yusuf', familyName: 'Karimov' }, birthDate: '1979-07-01' } });
    expect(await until(() => r1.stats.reports >= 2 && r1.stats.alerts >= 1)).toBe(true);
    const saved = await r1.snapshot();
    expect(saved.manifest.documents).toBe(2);
    expect(saved.manifest.persons).toBe(1);
    // The write to the object store told its progress (as the pull stream handed chunks on) and ended at 3 records.
    const writes = progress.filter((p) => p.phase === 'write');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes.every((p) => p.total === 3 && p.totalBytes === saved.bytes)).toBe(true);
    expect(writes.at(-1)).toMatchObject({ records: 3, bytes: saved.bytes });
    expect(logLines.some((l) => JSON.parse(l).msg === 'registry snapshot progress')).toBe(true);
    progress.length = 0;
    expect(Object.values(saved.manifest.positions).some((seq) => seq > 0)).toBe(true);
    // The key stays in a local 0600 file; nothing else is kept locally.
    expect((await stat(join(stateDir, 'registry.key'))).mode & 0o777).toBe(0o600);
    expect(await readdir(stateDir)).toEqual(['registry.key']);
    // The snapshot is one object of this replica in the agency's bucket: keyed hashes, no plaintext, not the key.
    const bytes = await objectBytes(r1.snapshotStore, 'registry-r1');
    expect(bytes?.byteLength).toBe(saved.bytes);
    const key = await readFile(join(stateDir, 'registry.key'));
    expect(bytes!.includes(key)).toBe(false);
    for (const plain of ['XA1000001', 'XA1000002', 'Karimov', 'KARIMOV', 'Yusuf']) expect(bytes!.includes(Buffer.from(plain))).toBe(false);
    // After the snapshot: a new record and a status change that only the stream holds.
    await police.send('DocumentReport', report('XA1000003'));
    await police.send('DocumentStatusChange', { documentNumber: 'XA1000001', issuingCountry: 'XAA', newStatus: 'DOCUMENT_STATUS_RECOVERED' });
    expect(await until(() => r1.stats.reports >= 3 && r1.stats.statusChanges >= 1)).toBe(true);
    before = await answers();
    expect(before[0]).toContain('NO_HIT');
    expect(before[2]).toContain(':CHECK_OUTCOME_HIT:');
    await ncb1.close(); // a crash: no final snapshot

    const ncb2 = await fed.connect('xc-ncb');
    const r2 = await runRegistry({ client: ncb2, stateDir, onSnapshotProgress: (p) => progress.push(p), snapshotProgressEveryMs: 0 });
    // The load from the object store told its progress before the start completed, ending at the 3 records.
    expect(progress.filter((p) => p.phase === 'load').at(-1)).toMatchObject({ records: 3, total: 3, bytes: saved.bytes });
    expect(progress.filter((p) => p.phase === 'load').length).toBeGreaterThanOrEqual(2);
    expect(r2.restored.documents).toBe(2);
    expect(r2.restored.persons).toBe(1);
    expect(r2.restored.replayed.length).toBeGreaterThan(0);
    expect(r2.restored.snapshotRefused).toBeUndefined();
    expect(await until(() => r2.stats.reports >= 1 && r2.stats.statusChanges >= 1)).toBe(true);
    // Only the tail was replayed, not the whole stream.
    expect(r2.stats.reports).toBe(1);
    expect(await answers()).toEqual(before);
    await r2.stop(); // writes a final snapshot
    await ncb2.close(); // and its consumer loops: they must not share the next registry's replayed consumers
  });

  it('a corrupt snapshot is refused with ERR_DECODE and the registry rebuilds from a full replay, answering as before', async () => {
    const ncb = await fed.connect('xc-ncb');
    const store = await objectSnapshotStore(ncb.nc, 'xc-ncb_snapshots');
    const bytes = (await objectBytes(store, 'registry-r1'))!;
    bytes[bytes.length - 40]! ^= 0xff; // a flipped byte in the person section
    await store.put('registry-r1', [bytes], bytes.byteLength);
    const r = await runRegistry({ client: ncb, stateDir });
    expect(r.restored.snapshotRefused).toMatch(/^ERR_DECODE: registry snapshot refused: .*digest/);
    expect(r.restored.documents).toBe(0);
    expect(await until(() => r.stats.reports >= 3 && r.stats.statusChanges >= 1 && r.stats.alerts >= 1)).toBe(true);
    expect(await answers()).toEqual(before);
    await r.stop();
    await ncb.close();
  });

  it('a snapshot made under another hashing key (another state dir) is refused, never used with the wrong key', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'liaison-registry-state-'));
    try {
      const ncb = await fed.connect('xc-ncb');
      const r = await runRegistry({ client: ncb, stateDir: otherDir });
      expect(r.restored.snapshotRefused).toContain('another hashing key');
      expect(await until(() => r.stats.reports >= 3 && r.stats.statusChanges >= 1 && r.stats.alerts >= 1)).toBe(true);
      expect(await answers()).toEqual(before);
      await r.stop();
      await ncb.close();
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('snapshots taken while a bulk import streams in are consistent: a restart from the last one gives every record', async () => {
    const ncb = await fed.connect('xc-ncb');
    // The last snapshot was written under the other key: refused, a full replay of the few records so far.
    const r = await runRegistry({ client: ncb, stateDir });
    expect(r.restored.snapshotRefused).toContain('another hashing key');
    expect(await until(() => r.stats.reports >= 3 && r.stats.statusChanges >= 1 && r.stats.alerts >= 1)).toBe(true);
    const base = r.store.size;
    const rows = Array.from({ length: 20_000 }, (_, i) => `XB${String(i).padStart(7, '0')},XAA,passport,lost`);
    const csv = join(stateDir, '..', `restart-import-${process.pid}.csv`);
    await writeFile(csv, `document_number,issuing_country,document_type,status\n${rows.join('\n')}\n`);
    const covered: number[] = [];
    let importing = true;
    const snapshotting = (async () => {
      while (importing) covered.push((await r.snapshot()).manifest.documents);
    })();
    try {
      const imported = await importCsv({ client: police, file: csv, batchSize: 100 });
      expect(imported.imported).toBe(20_000);
      expect(await until(() => r.store.size === base + 20_000, 15_000)).toBe(true);
    } finally {
      importing = false;
      await snapshotting;
      await rm(csv, { force: true });
    }
    // At least one snapshot was taken while rows were being applied (neither before the first nor after the last).
    expect(covered.filter((n) => n > base && n < base + 20_000).length, `documents per snapshot: ${covered.join(', ')}`).toBeGreaterThan(0);
    await ncb.close(); // crash right after the last snapshot
    const again = await fed.connect('xc-ncb');
    const r2 = await runRegistry({ client: again, stateDir });
    expect(r2.restored.snapshotRefused).toBeUndefined();
    // The last snapshot may predate the last rows; the tail after its positions brings the rest, nothing twice.
    expect(r2.restored.documents).toBeGreaterThan(base);
    expect(await until(() => r2.store.size === base + 20_000, 15_000)).toBe(true);
    expect(r2.stats.reports).toBe(base + 20_000 - r2.restored.documents);
    for (const n of ['XB0000000', 'XB0010000', 'XB0019999']) {
      expect((await checker.request('DocumentCheckRequest', { documentNumber: n, issuingCountry: 'XAA' })).body.outcome).toBe('CHECK_OUTCOME_HIT');
    }
    expect(await answers()).toEqual(before);
    await r2.stop();
    await again.close();
  });

  it('another agency cannot read or overwrite the bureau’s snapshots (broker-enforced bucket rights)', async () => {
    await expect(objectSnapshotStore(checker.nc, 'xc-ncb_snapshots')).rejects.toMatchObject({ code: 'ERR_EXCHANGE', message: expect.stringMatching(/Permissions Violation/) });
  });
});
