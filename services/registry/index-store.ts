import { createKeyedHasher, DOCUMENT_STATUSES, DOCUMENT_TYPES, DocumentIndex, statusCode, typeCode, type DocumentStatus, type DocumentType } from './index/index.ts';
import { ChangeHistory, type ChangeEntry } from './history.ts';
import type { DocumentHash } from './index/keyed-hash.ts';
import type { ChangeBy, DocumentStatusName, DocumentStore, StoredDocument, UpsertOutcome, Withdrawal } from './store.ts';

/** A record's state as the compact index holds it (what a change history restores). */
export interface IndexedState {
  status: DocumentStatus;
  type: DocumentType;
  owner: string;
  seq: number;
}

const keyOf = (h: DocumentHash) => `${h.hi}:${h.lo}:${h.check}`;
const hashOf = (key: string): DocumentHash => {
  const [hi, lo, check] = key.split(':').map(Number);
  return { hi: hi!, lo: lo!, check: check! };
};

const UUID_BYTES = 16;

/** Registry references (the UUIDv7 of the report that created a record) packed 16 bytes each, by record seq. */
class ReferenceTable {
  #bytes = new Uint8Array(UUID_BYTES * 1024);
  #next = 1;

  /** The used part of the table, for snapshots. */
  export(): Uint8Array {
    return this.#bytes.subarray(0, this.#next * UUID_BYTES);
  }

  static restore(bytes: Uint8Array): ReferenceTable {
    const t = new ReferenceTable();
    let cap = t.#bytes.length;
    while (cap < bytes.length + UUID_BYTES) cap *= 2;
    t.#bytes = new Uint8Array(cap);
    t.#bytes.set(bytes);
    t.#next = Math.max(1, Math.floor(bytes.length / UUID_BYTES));
    return t;
  }

  add(uuid: string): number {
    const seq = this.#next++;
    if ((seq + 1) * UUID_BYTES > this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes.set(Buffer.from(uuid.replaceAll('-', ''), 'hex'), seq * UUID_BYTES);
    return seq;
  }

  get(seq: number): string {
    const h = Buffer.from(this.#bytes.subarray(seq * UUID_BYTES, (seq + 1) * UUID_BYTES)).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  get byteLength(): number {
    return this.#bytes.byteLength;
  }
}

const TYPES = new Set<string>(['unspecified', 'passport', 'identity_card', 'visa', 'residence_permit', 'refugee_travel_document', 'seafarer_id', 'blank']);

/**
 * The registry's DocumentStore on the compact keyed-hash index: ≈ 26 bytes per record in the index
 * plus 16 for the record's reference (measured by `npm run bench`), no plaintext document numbers.
 */
export class IndexDocumentStore implements DocumentStore {
  readonly #index: DocumentIndex;
  readonly #refs: ReferenceTable;
  /** Records per meta byte (type << 3 | status), kept on every upsert; counted once from the tables on restore. */
  readonly #counts = new Float64Array(256);
  /** Changes to existing records, to undo a retracted one (in snapshots). */
  readonly #history: ChangeHistory<IndexedState>;

  constructor(key: Uint8Array, capacity?: number, restored?: { index: DocumentIndex; references: Uint8Array; history?: ChangeEntry<IndexedState>[] }) {
    this.#index = restored?.index ?? new DocumentIndex({ hasher: createKeyedHasher(key), capacity });
    this.#refs = restored ? ReferenceTable.restore(restored.references) : new ReferenceTable();
    this.#history = new ChangeHistory<IndexedState>(undefined, restored?.history);
    if (restored) for (const m of this.#index.tables().meta) if (m !== 0) this.#counts[m]!++;
  }

  /** Records by document type and status (lower-case names), e.g. `{ passport: { stolen: 3 } }`. */
  counts(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (let m = 1; m < 256; m++) {
      const n = this.#counts[m]!;
      if (n === 0) continue;
      const type = DOCUMENT_TYPES[m >> 3] ?? `type-${m >> 3}`;
      const status = DOCUMENT_STATUSES[m & 7] ?? `status-${m & 7}`;
      (out[type] ??= {})[status] = n;
    }
    return out;
  }

  /** The index, the packed references and the change history, for snapshots. */
  snapshotParts(): { index: DocumentIndex; references: Uint8Array; history: ChangeEntry<IndexedState>[] } {
    return { index: this.#index, references: this.#refs.export(), history: this.#history.export() };
  }

  upsert(country: string, number: string, record: StoredDocument, change?: ChangeBy): UpsertOutcome {
    const h = this.#index.hashOf(country, number);
    const existing = this.#index.lookupHashed(h);
    const seq = existing && this.#refs.get(existing.seq) === record.reference ? existing.seq : this.#refs.add(record.reference);
    const lower = record.type.toLowerCase();
    const type = (TYPES.has(lower) ? lower : 'unspecified') as DocumentType;
    const status = record.status.toLowerCase() as DocumentStatus;
    const outcome = this.#index.upsertHashed(h, { type, status, owner: record.owner, seq });
    if (outcome !== 'unchanged') {
      if (existing) this.#counts[(typeCode(existing.type) << 3) | statusCode(existing.status)]!--;
      this.#counts[(typeCode(type) << 3) | statusCode(status)]!++;
      if (existing && change) this.#history.record({ ...change, key: keyOf(h), before: { status: existing.status, type: existing.type, owner: existing.owner, seq: existing.seq } });
    }
    return outcome;
  }

  get(country: string, number: string): StoredDocument | undefined {
    const r = this.#index.lookup(country, number);
    if (!r) return undefined;
    return { status: r.status.toUpperCase() as DocumentStatusName, type: r.type.toUpperCase(), owner: r.owner, reference: this.#refs.get(r.seq) };
  }

  withdraw(messageId: string, sender: string): Withdrawal {
    const w: Withdrawal = { cancelled: 0, restored: 0, superseded: 0 };
    for (const u of this.#history.retract(messageId, sender)) {
      if (!u.restore) {
        w.superseded++;
        continue;
      }
      const h = hashOf(u.key);
      const cur = this.#index.lookupHashed(h);
      if (!cur || this.#index.upsertHashed(h, u.restore) === 'unchanged') continue;
      this.#counts[(typeCode(cur.type) << 3) | statusCode(cur.status)]!--;
      this.#counts[(typeCode(u.restore.type) << 3) | statusCode(u.restore.status)]!++;
      w.restored++;
    }
    for (const e of this.#index.entries()) {
      if (e.status === 'cancelled' || e.owner !== sender || this.#refs.get(e.seq) !== messageId) continue;
      if (this.#index.setStatusHashed(e.hash, 'cancelled') !== 'updated') continue;
      this.#counts[(typeCode(e.type) << 3) | statusCode(e.status)]!--;
      this.#counts[(typeCode(e.type) << 3) | statusCode('cancelled')]!++;
      this.#history.forgetKey(keyOf(e.hash));
      w.cancelled++;
    }
    return w;
  }

  get size(): number {
    return this.#index.size;
  }

  /** Bytes held by the index and the reference table. */
  memoryBytes(): number {
    return this.#index.memoryBytes() + this.#refs.byteLength;
  }
}
