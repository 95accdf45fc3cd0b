import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChangeHistory } from '../services/registry/history.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { MapDocumentStore } from '../services/registry/map-store.ts';
import { loadRegistryState, saveRegistryState } from '../services/registry/persistence.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { fileSnapshotStore } from '../services/registry/snapshot-store.ts';
import type { DocumentStore, StoredDocument } from '../services/registry/store.ts';

const REPORT = '0190a000-0000-7000-8000-000000000001';
const RECOVERED = '0190a000-0000-7000-8000-000000000002';
const FRAUD = '0190a000-0000-7000-8000-000000000003';
const doc = (status: StoredDocument['status'], owner = 'xa-border-police'): StoredDocument => ({ status, type: 'PASSPORT', owner, reference: REPORT });
const by = (id: string, sender = 'xa-border-police') => ({ id, by: sender });

describe('change history: what a retraction of a change restores', () => {
  it('retracting the latest change restores the state before it; an earlier one hands its "before" to the next', () => {
    const h = new ChangeHistory<string>();
    h.record({ id: 'a', by: 'x', key: 'k', before: 'S0' });
    h.record({ id: 'b', by: 'x', key: 'k', before: 'S1' });
    expect(h.retract('a', 'x')).toEqual([{ key: 'k' }]); // b stands
    expect(h.retract('b', 'x')).toEqual([{ key: 'k', restore: 'S0' }]); // before both
    expect(h.size).toBe(0);
  });
  it('leaves changes of another sender alone, forgets a document whose creation was retracted, and stays bounded', () => {
    const h = new ChangeHistory<string>(3);
    h.record({ id: 'a', by: 'x', key: 'k', before: 'S0' });
    expect(h.retract('a', 'intruder')).toEqual([]);
    expect(h.knows('a', 'x')).toBe(true);
    h.forgetKey('k');
    expect(h.retract('a', 'x')).toEqual([]);
    for (const id of ['1', '2', '3', '4']) h.record({ id, by: 'x', key: `k${id}`, before: 'S' });
    expect(h.size).toBe(3);
    expect(h.knows('1', 'x')).toBe(false);
    expect(h.retract('4', 'x')).toEqual([{ key: 'k4', restore: 'S' }]);
  });
});

for (const [name, make] of [
  ['compact index store', () => new IndexDocumentStore(randomBytes(32))],
  ['map store', () => new MapDocumentStore(randomBytes(32))],
] as const) {
  describe(`${name}: withdraw`, () => {
    const setup = (): DocumentStore => {
      const s: DocumentStore = make();
      s.upsert('XAA', 'XA1', doc('STOLEN'), by(REPORT));
      s.upsert('XAA', 'XA1', doc('RECOVERED'), by(RECOVERED));
      return s;
    };
    it('a retracted status change is undone: the passport wrongly declared recovered hits again', () => {
      const s = setup();
      expect(s.withdraw(RECOVERED, 'xa-border-police')).toEqual({ cancelled: 0, restored: 1, superseded: 0 });
      expect(s.get('XAA', 'XA1')?.status).toBe('STOLEN');
    });
    it('an earlier change that a later one stands on is dropped without touching the record; undoing the later one then restores the state before both', () => {
      const s = setup();
      s.upsert('XAA', 'XA1', doc('FRAUDULENT'), by(FRAUD));
      expect(s.withdraw(RECOVERED, 'xa-border-police')).toEqual({ cancelled: 0, restored: 0, superseded: 1 });
      expect(s.get('XAA', 'XA1')?.status).toBe('FRAUDULENT');
      expect(s.withdraw(FRAUD, 'xa-border-police').restored).toBe(1);
      expect(s.get('XAA', 'XA1')?.status).toBe('STOLEN');
    });
    it('only the sender: a retraction by another agency changes nothing; the creating report cancels the record for good', () => {
      const s = setup();
      expect(s.withdraw(RECOVERED, 'xb-police')).toEqual({ cancelled: 0, restored: 0, superseded: 0 });
      expect(s.withdraw(REPORT, 'xb-police')).toEqual({ cancelled: 0, restored: 0, superseded: 0 });
      expect(s.get('XAA', 'XA1')?.status).toBe('RECOVERED');
      expect(s.withdraw(REPORT, 'xa-border-police').cancelled).toBe(1);
      // The status change can no longer bring the cancelled record back.
      expect(s.withdraw(RECOVERED, 'xa-border-police').restored).toBe(0);
      expect(s.get('XAA', 'XA1')?.status).toBe('CANCELLED');
    });
  });
}

describe('the change history survives a snapshot', () => {
  it('a status change applied before the snapshot can be undone after a restart from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'liaison-history-'));
    try {
      const key = randomBytes(32);
      const store = new IndexDocumentStore(key);
      store.upsert('XAA', 'XA1', doc('STOLEN'), by(REPORT));
      store.upsert('XAA', 'XA1', doc('RECOVERED'), by(RECOVERED));
      const snapshots = fileSnapshotStore(dir);
      const who = { agency: 'xc-ncb', replica: 1 };
      await saveRegistryState(snapshots, { store, persons: new PersonAlerts(createKeyedHasher(key)), positions: {} }, who);
      const loaded = await loadRegistryState(snapshots, key, { ...who, consumers: new Set() });
      const restored = loaded!.state.store;
      expect(restored.get('XAA', 'XA1')?.status).toBe('RECOVERED');
      expect(restored.withdraw(RECOVERED, 'xa-border-police').restored).toBe(1);
      expect(restored.get('XAA', 'XA1')?.status).toBe('STOLEN');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
