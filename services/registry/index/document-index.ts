/**
 * The lost/stolen travel document index: an open-addressing hash table (linear probing, power-of-two capacity,
 * load factor ≤ 0.75, grows by doubling) over parallel typed arrays. Per slot, 16 bytes:
 *
 * | array   | bytes | holds                                                                          |
 * |---------|-------|--------------------------------------------------------------------------------|
 * | `hi`    | 4     | HMAC bytes 0–3 (see {@link ./keyed-hash.ts})                                    |
 * | `lo`    | 4     | HMAC bytes 4–7; `lo & mask` is the home slot                                   |
 * | `check` | 1     | HMAC byte 8, compared too (72-bit match)                                       |
 * | `meta`  | 1     | status (bits 0–2, 1–5 as in the proto) and type (bits 3–7); 0 = empty slot     |
 * | `owner` | 2     | owner agency, index into an {@link AgencyTable}                                |
 * | `seq`   | 4     | the report's sequence (stream sequence or record id) for looking up details    |
 *
 * At 10 M records the capacity is 2²⁴ (load 0.6): 268 MB, ≈ 27 bytes per record; just after a doubling the worst
 * case is 16 / 0.375 ≈ 43 bytes per record. Records are never removed (a document recovered or cancelled keeps its
 * record with that status and stops hitting), so the table needs no tombstones. No plaintext number is held.
 *
 * The owner-country rule (only the issuing State changes a record) is the service's: it calls {@link
 * DocumentIndex.ownerOf} and decides.
 *
 * @module
 */
import { LiaisonError } from '../../sdk/errors.ts';
import { AgencyTable } from './agency-table.ts';
import { DOCUMENT_STATUSES, DOCUMENT_TYPES, isHitStatus, statusCode, typeCode, type DocumentStatus, type DocumentType } from './codes.ts';
import type { DocumentHash, KeyedHasher } from './keyed-hash.ts';
import { normaliseCountry, normaliseDocumentNumber } from './normalise.ts';

/** Maximum load factor before the table doubles. */
export const MAX_LOAD = 0.75;
const MIN_CAPACITY = 1024;
const MAX_CAPACITY = 2 ** 30;

/** A document report as the index takes it (country and number are normalised here). */
export interface DocumentRecordInput {
  /** ICAO issuing-state code. */
  readonly country: string;
  /** Document number as reported (any case, separators allowed). */
  readonly number: string;
  readonly type: DocumentType;
  readonly status: DocumentStatus;
  /** Owner agency id (the reporting agency of the issuing State). */
  readonly owner: string;
  /** Sequence of the report that set this state (uint32), to fetch its details. */
  readonly seq: number;
}

/** The state part of a record, for callers that already hold the {@link DocumentHash}. */
export type DocumentState = Omit<DocumentRecordInput, 'country' | 'number'>;

/** Result of {@link DocumentIndex.upsert}. */
export type UpsertOutcome = 'added' | 'updated' | 'unchanged';

/** Result of {@link DocumentIndex.setStatus}. */
export type SetStatusOutcome = 'updated' | 'unchanged' | 'missing';

/** A record found by a lookup. `hit` is false for recovered and cancelled documents. */
export interface DocumentLookup {
  readonly hit: boolean;
  readonly status: DocumentStatus;
  readonly type: DocumentType;
  readonly owner: string;
  readonly seq: number;
}

/** One stored record, as {@link DocumentIndex.entries} yields it (hash, never the number). */
export interface DocumentEntry extends DocumentLookup {
  readonly hash: DocumentHash;
}

/** The raw arrays of an index (what a snapshot copies). */
export interface DocumentTables {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly seq: Uint32Array;
  readonly owner: Uint16Array;
  readonly meta: Uint8Array;
  readonly check: Uint8Array;
  readonly size: number;
  readonly agencies: readonly string[];
}

/** Options of a {@link DocumentIndex}. */
export interface DocumentIndexOptions {
  /** Hasher holding the registry's secret key. */
  readonly hasher: KeyedHasher;
  /** Expected number of records: preallocates so that no doubling happens below it. */
  readonly capacity?: number;
}

function capacityFor(records: number): number {
  let c = MIN_CAPACITY;
  while (c * MAX_LOAD < records && c < MAX_CAPACITY) c *= 2;
  return c;
}

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) {
    throw new LiaisonError('ERR_BODY_INVALID', `seq: ${seq} is not a uint32`, { field: 'seq' });
  }
}

/** The document index. */
export class DocumentIndex {
  readonly hasher: KeyedHasher;
  #agencies: AgencyTable;
  // Assigned by #allocate (constructor, growth, fromTables).
  #hi!: Uint32Array;
  #lo!: Uint32Array;
  #seq!: Uint32Array;
  #owner!: Uint16Array;
  #meta!: Uint8Array;
  #check!: Uint8Array;
  #mask!: number;
  #size = 0;
  #growAt!: number;

  constructor(options: DocumentIndexOptions) {
    this.hasher = options.hasher;
    this.#agencies = new AgencyTable();
    const cap = capacityFor(options.capacity ?? 0);
    this.#allocate(cap);
  }

  /** Rebuild an index from its raw arrays (snapshot load). The arrays are adopted, not copied. */
  static fromTables(hasher: KeyedHasher, t: DocumentTables): DocumentIndex {
    const cap = t.hi.length;
    if ((cap & (cap - 1)) !== 0 || cap < MIN_CAPACITY || [t.lo, t.seq, t.owner, t.meta, t.check].some((a) => a.length !== cap)) {
      throw new LiaisonError('ERR_DECODE', 'document tables have inconsistent capacities');
    }
    const index = new DocumentIndex({ hasher });
    index.#hi = t.hi;
    index.#lo = t.lo;
    index.#seq = t.seq;
    index.#owner = t.owner;
    index.#meta = t.meta;
    index.#check = t.check;
    index.#mask = cap - 1;
    index.#growAt = Math.floor(cap * MAX_LOAD);
    index.#size = t.size;
    index.#agencies = AgencyTable.from(t.agencies);
    return index;
  }

  /** The raw arrays (shared, not copied): for snapshots only. */
  tables(): DocumentTables {
    return {
      hi: this.#hi,
      lo: this.#lo,
      seq: this.#seq,
      owner: this.#owner,
      meta: this.#meta,
      check: this.#check,
      size: this.#size,
      agencies: this.#agencies.ids(),
    };
  }

  /** Number of records (every status). */
  get size(): number {
    return this.#size;
  }

  /** Number of slots. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Keyed hash of a document, normalising country and number (throws `ERR_BODY_INVALID` on bad input). */
  hashOf(country: string, number: string): DocumentHash {
    return this.hasher.document(normaliseCountry(country), normaliseDocumentNumber(number));
  }

  /**
   * Add or update a record. A report repeating the state already held (same status, type and owner) is
   * `unchanged` and keeps the first report's `seq`, so duplicate reports are idempotent and the record keeps
   * pointing at the report that established its state.
   */
  upsert(record: DocumentRecordInput): UpsertOutcome {
    return this.upsertHashed(this.hashOf(record.country, record.number), record);
  }

  /** {@link upsert} for a precomputed hash (bulk import, replay). */
  upsertHashed(h: DocumentHash, state: DocumentState): UpsertOutcome {
    const meta = statusCode(state.status) | (typeCode(state.type) << 3);
    checkSeq(state.seq);
    const owner = this.#agencies.intern(state.owner);
    let slot = this.#find(h);
    if (slot >= 0) {
      if (this.#meta[slot] === meta && this.#owner[slot] === owner) return 'unchanged';
      this.#meta[slot] = meta;
      this.#owner[slot] = owner;
      this.#seq[slot] = state.seq;
      return 'updated';
    }
    if (this.#size >= this.#growAt) {
      this.#grow();
      slot = this.#find(h);
    }
    slot = ~slot;
    this.#hi[slot] = h.hi;
    this.#lo[slot] = h.lo;
    this.#check[slot] = h.check;
    this.#meta[slot] = meta;
    this.#owner[slot] = owner;
    this.#seq[slot] = state.seq;
    this.#size++;
    return 'added';
  }

  /**
   * Change the status of an existing record (a DocumentStatusChange); `seq` (when given) becomes the record's
   * report sequence. `missing` when no record exists; `unchanged` when it already has that status.
   */
  setStatus(country: string, number: string, status: DocumentStatus, seq?: number): SetStatusOutcome {
    return this.setStatusHashed(this.hashOf(country, number), status, seq);
  }

  /** {@link setStatus} for a precomputed hash. */
  setStatusHashed(h: DocumentHash, status: DocumentStatus, seq?: number): SetStatusOutcome {
    const code = statusCode(status);
    if (seq !== undefined) checkSeq(seq);
    const slot = this.#find(h);
    if (slot < 0) return 'missing';
    const meta = this.#meta[slot]!;
    if ((meta & 7) === code) return 'unchanged';
    this.#meta[slot] = (meta & ~7) | code;
    if (seq !== undefined) this.#seq[slot] = seq;
    return 'updated';
  }

  /**
   * Look a document up. `undefined` when no record exists; otherwise the record with `hit: true` for lost, stolen
   * or fraudulent and `hit: false` for recovered or cancelled documents.
   */
  lookup(country: string, number: string): DocumentLookup | undefined {
    return this.lookupHashed(this.hashOf(country, number));
  }

  /** {@link lookup} for a precomputed hash. */
  lookupHashed(h: DocumentHash): DocumentLookup | undefined {
    const slot = this.#find(h);
    return slot < 0 ? undefined : this.#record(slot);
  }

  /** The owner agency of a document's record, or undefined when there is none. */
  ownerOf(country: string, number: string): string | undefined {
    const slot = this.#find(this.hashOf(country, number));
    return slot < 0 ? undefined : this.#agencies.idAt(this.#owner[slot]!);
  }

  /** Bytes held by the table and the agency table (typed arrays are external memory). */
  memoryBytes(): number {
    const a = [this.#hi, this.#lo, this.#seq, this.#owner, this.#meta, this.#check];
    return a.reduce((n, x) => n + x.byteLength, 0) + this.#agencies.memoryBytes();
  }

  /** Every record, in slot order. */
  *entries(): IterableIterator<DocumentEntry> {
    const cap = this.#mask + 1;
    for (let slot = 0; slot < cap; slot++) {
      if (this.#meta[slot] === 0) continue;
      yield { ...this.#record(slot), hash: { hi: this.#hi[slot]!, lo: this.#lo[slot]!, check: this.#check[slot]! } };
    }
  }

  #record(slot: number): DocumentLookup {
    const meta = this.#meta[slot]!;
    const status = DOCUMENT_STATUSES[meta & 7]!;
    return {
      hit: isHitStatus(status),
      status,
      type: DOCUMENT_TYPES[meta >>> 3] ?? 'unspecified',
      owner: this.#agencies.idAt(this.#owner[slot]!) ?? '',
      seq: this.#seq[slot]!,
    };
  }

  /** The slot holding `h`, or `~slot` of the empty slot where it would go. */
  #find(h: DocumentHash): number {
    const { hi, lo, check } = h;
    const mask = this.#mask;
    const his = this.#hi;
    const los = this.#lo;
    const metas = this.#meta;
    let slot = lo & mask;
    for (;;) {
      if (metas[slot] === 0) return ~slot;
      if (los[slot] === lo && his[slot] === hi && this.#check[slot] === check) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** Fresh, empty tables of `cap` slots. */
  #allocate(cap: number): void {
    this.#hi = new Uint32Array(cap);
    this.#lo = new Uint32Array(cap);
    this.#seq = new Uint32Array(cap);
    this.#owner = new Uint16Array(cap);
    this.#meta = new Uint8Array(cap);
    this.#check = new Uint8Array(cap);
    this.#mask = cap - 1;
    this.#growAt = Math.floor(cap * MAX_LOAD);
  }

  #grow(): void {
    const cap = (this.#mask + 1) * 2;
    if (cap > MAX_CAPACITY) throw new LiaisonError('ERR_INTERNAL', `document index full (${this.#size} records)`);
    const [hi, lo, seq, owner, meta, check] = [this.#hi, this.#lo, this.#seq, this.#owner, this.#meta, this.#check];
    this.#allocate(cap);
    const mask = this.#mask;
    const [nhi, nlo, nseq, nowner, nmeta, ncheck] = [this.#hi, this.#lo, this.#seq, this.#owner, this.#meta, this.#check];
    for (let i = 0; i < meta.length; i++) {
      const m = meta[i]!;
      if (m === 0) continue;
      let slot = lo[i]! & mask;
      while (nmeta[slot] !== 0) slot = (slot + 1) & mask;
      nhi[slot] = hi[i]!;
      nlo[slot] = lo[i]!;
      nseq[slot] = seq[i]!;
      nowner[slot] = owner[i]!;
      nmeta[slot] = m;
      ncheck[slot] = check[i]!;
    }
  }
}
