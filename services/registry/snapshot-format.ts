/**
 * One registry snapshot as a single byte stream (one object in the agency's object store, or one file):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 8    | magic `LIAIREGS`                                                        |
 * | 8      | 4    | container version (1), little-endian                                    |
 * | 12     | 4    | manifest length in bytes, little-endian                                 |
 * | 16     | …    | manifest (JSON, {@link SnapshotManifest})                               |
 * | …      | …    | document index snapshot (`index/snapshot.ts`: 96-byte header + body)    |
 * | …      | …    | record references (16 bytes per record seq)                             |
 * | …      | …    | person index snapshot (96-byte header + body)                           |
 *
 * Only keyed hashes are stored: the key is not in the snapshot (it stays in the registry's 0600 key file), and
 * each index section carries the key's fingerprint and a SHA-256 of its body. Loading checks the container, the
 * manifest (agency, replica, key fingerprint, section lengths, positions), each section's digest, and that the
 * stream ends where the manifest says. Any disagreement → `LiaisonError` `ERR_DECODE`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { LiaisonError } from '../sdk/errors.ts';
import {
  copyDocumentTables,
  createKeyedHasher,
  decodePersonSnapshot,
  documentSnapshotParts,
  encodePersonSnapshot,
  readDocumentSnapshot,
  type SequentialSource,
} from './index/index.ts';
import type { ChangeEntry } from './history.ts';
import { DOCUMENT_STATUSES, DOCUMENT_TYPES } from './index/codes.ts';
import { IndexDocumentStore, type IndexedState } from './index-store.ts';
import { PersonAlerts } from './persons.ts';
import type { SnapshotMeter } from './snapshot-progress.ts';

const MAGIC = Buffer.from('LIAIREGS', 'latin1');
const VERSION = 1;
const PREAMBLE_BYTES = 16;
/** A manifest longer than this is refused before parsing. */
const MAX_MANIFEST_BYTES = 64 << 20;

/** Last applied stream sequence per durable consumer: replay starts after it. */
export type ConsumerPositions = Record<string, number>;

/** What a snapshot covers and how its sections are laid out. */
export interface SnapshotManifest {
  version: 1;
  agency: string;
  replica: number;
  savedAt: string;
  /** Fingerprint of the hashing key (not the key): a snapshot made under another key is refused. */
  keyFingerprint: string;
  /** Last stream sequence applied per consumer when the snapshot was taken. */
  positions: ConsumerPositions;
  documents: number;
  persons: number;
  /** Requested action per person alert reference. */
  actions: Record<string, string>;
  personSeq: number;
  /** Changes to existing records a retraction may still undo (absent in older snapshots). */
  history?: ChangeEntry<IndexedState>[];
  sections: { documents: number; references: number; persons: number };
  referencesSha256: string;
}

/** The registry state a snapshot holds. */
export interface RegistryState {
  store: IndexDocumentStore;
  persons: PersonAlerts;
  positions: ConsumerPositions;
}

/** A snapshot ready to write: its manifest, byte ranges in order, and total length. */
export interface EncodedSnapshot {
  manifest: SnapshotManifest;
  parts: Uint8Array[];
  bytes: number;
}

/** SHA-256 in 2 MB slices that yield to the event loop in between (a 160 MB reference table is ≈ 100 ms of hashing). */
async function sha256Sliced(bytes: Uint8Array, onBytes?: (n: number) => void): Promise<string> {
  const sha = createHash('sha256');
  for (let off = 0; off < bytes.byteLength; off += 2 << 20) {
    const slice = bytes.subarray(off, off + (2 << 20));
    sha.update(slice);
    onBytes?.(slice.byteLength);
    await new Promise<void>((r) => setImmediate(r));
  }
  return sha.digest('hex');
}

const bad = (why: string, cause?: unknown): LiaisonError =>
  new LiaisonError('ERR_DECODE', `registry snapshot refused: ${why}`, {}, cause === undefined ? undefined : { cause });

/** Runs `fn` while no record is being applied (the registry holds reports back; checks go on). */
export type Quiesce = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * Take a point-in-time snapshot of the registry state: positions, references, the person index and a copy of the
 * document arrays are all taken under `quiesce`, so the snapshot never claims a position it does not hold and
 * never mixes states. Without `quiesce` the caller guarantees nothing changes meanwhile. `meter`, when given,
 * hears this preparation (copying the tables, then hashing them and the references) as it goes, and its end.
 */
export async function encodeRegistrySnapshot(
  state: RegistryState,
  who: { agency: string; replica: number },
  quiesce?: Quiesce,
  meter?: SnapshotMeter,
): Promise<EncodedSnapshot> {
  let done = 0;
  const onBytes = meter && ((n: number) => meter.bytes((done += n)));
  const take = async () => {
    const positions = { ...state.positions };
    const { index, references, history } = state.store.snapshotParts();
    const persons = encodePersonSnapshot(state.persons.index, { streamSequence: 0n });
    const extras = state.persons.snapshotExtras();
    const personCount = state.persons.index.size;
    // The work to report: the tables copied, then hashed, then the references hashed.
    const t = index.tables();
    const tableBytes = [t.hi, t.lo, t.seq, t.owner, t.meta, t.check].reduce((n, a) => n + a.byteLength, 0);
    meter?.setTotals(t.size + personCount, 2 * tableBytes + references.byteLength);
    // The reference table only grows (a record's slot never changes once written): the used part is stable.
    return { positions, references, history, persons, extras, personCount, fingerprint: index.hasher.fingerprint, tables: await copyDocumentTables(index, onBytes) };
  };
  const { positions, references, history, persons, extras, personCount, fingerprint, tables } = quiesce ? await quiesce(take) : await take();
  const docs = await documentSnapshotParts(tables, fingerprint, { streamSequence: 0n, ...(onBytes ? { onBytes } : {}) });
  const referencesSha256 = await sha256Sliced(references, onBytes);
  meter?.finish();
  const manifest: SnapshotManifest = {
    version: VERSION,
    agency: who.agency,
    replica: who.replica,
    savedAt: new Date().toISOString(),
    keyFingerprint: fingerprint,
    positions,
    documents: docs.records,
    persons: personCount,
    actions: extras.actions,
    personSeq: extras.seq,
    history,
    sections: { documents: docs.bytes, references: references.byteLength, persons: persons.byteLength },
    referencesSha256,
  };
  const json = Buffer.from(JSON.stringify(manifest), 'utf8');
  const preamble = Buffer.alloc(PREAMBLE_BYTES);
  MAGIC.copy(preamble, 0);
  preamble.writeUInt32LE(VERSION, 8);
  preamble.writeUInt32LE(json.length, 12);
  const parts = [preamble, json, ...docs.parts, references, persons];
  return { manifest, parts, bytes: parts.reduce((n, p) => n + p.byteLength, 0) };
}

const isChange = (e: unknown): boolean => {
  const c = e as ChangeEntry<IndexedState>;
  const b = c?.before;
  return (
    typeof c?.id === 'string' &&
    typeof c.by === 'string' &&
    typeof c.key === 'string' &&
    /^\d+:\d+:\d+$/.test(c.key) &&
    !!b &&
    typeof b.status === 'string' &&
    DOCUMENT_STATUSES.includes(b.status) &&
    DOCUMENT_TYPES.includes(b.type) &&
    typeof b.owner === 'string' &&
    Number.isSafeInteger(b.seq)
  );
};

function checkManifest(m: unknown, expect: { agency: string; replica: number; fingerprint: string; consumers: ReadonlySet<string> }): SnapshotManifest {
  const v = m as SnapshotManifest;
  if (!v || typeof v !== 'object' || v.version !== VERSION) throw bad('manifest version');
  if (v.agency !== expect.agency || v.replica !== expect.replica) throw bad(`made by ${String(v.agency)} replica ${String(v.replica)}, this is ${expect.agency} replica ${expect.replica}`);
  if (v.keyFingerprint !== expect.fingerprint) throw bad('made with another hashing key');
  const s = v.sections;
  if (!s || ![s.documents, s.references, s.persons].every((n) => Number.isSafeInteger(n) && n >= 0)) throw bad('section lengths');
  if (s.references % 16 !== 0) throw bad('reference table length is not a multiple of 16');
  if (!v.positions || typeof v.positions !== 'object') throw bad('no positions');
  for (const [consumer, seq] of Object.entries(v.positions)) {
    if (!expect.consumers.has(consumer)) throw bad(`position for ${consumer}, which is not a consumer of this registry`);
    if (!Number.isSafeInteger(seq) || seq < 0) throw bad(`position of ${consumer} is not a stream sequence`);
  }
  if (!v.actions || typeof v.actions !== 'object' || !Number.isSafeInteger(v.personSeq)) throw bad('person extras');
  if (v.history !== undefined && !(Array.isArray(v.history) && v.history.every(isChange))) throw bad('change history');
  return v;
}

/**
 * Read a snapshot made by {@link encodeRegistrySnapshot} from a sequential source and rebuild the registry
 * state. `expect` is who may load it: this agency and replica, under this key, with these consumers. The source
 * must end exactly after the last section (`atEnd`). Throws `ERR_DECODE` on any mismatch or corruption.
 * `meter`, when given, learns the snapshot's records and bytes from the manifest (the source reports bytes read).
 */
export async function decodeRegistrySnapshot(
  src: SequentialSource & { atEnd(): Promise<boolean> },
  key: Uint8Array,
  expect: { agency: string; replica: number; consumers: ReadonlySet<string> },
  meter?: SnapshotMeter,
): Promise<{ state: RegistryState; manifest: SnapshotManifest }> {
  const hasher = createKeyedHasher(key);
  const preamble = Buffer.alloc(PREAMBLE_BYTES);
  await src.read(preamble);
  if (!preamble.subarray(0, 8).equals(MAGIC)) throw bad('not a Liaison registry snapshot (magic)');
  if (preamble.readUInt32LE(8) !== VERSION) throw bad(`container version ${preamble.readUInt32LE(8)} (this build reads ${VERSION})`);
  const manifestLength = preamble.readUInt32LE(12);
  if (manifestLength > MAX_MANIFEST_BYTES) throw bad(`manifest of ${manifestLength} bytes`);
  const json = Buffer.alloc(manifestLength);
  await src.read(json);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw bad('manifest is not JSON', err);
  }
  const manifest = checkManifest(parsed, { ...expect, fingerprint: hasher.fingerprint });
  const { documents, references: refBytes, persons: personSection } = manifest.sections;
  meter?.setTotals(manifest.documents + manifest.persons, PREAMBLE_BYTES + manifestLength + documents + refBytes + personSection);
  const docs = await readDocumentSnapshot(src, hasher, manifest.sections.documents);
  if (docs.records !== manifest.documents) throw bad(`manifest says ${manifest.documents} documents, index holds ${docs.records}`);
  const references = new Uint8Array(manifest.sections.references);
  await src.read(references);
  if (createHash('sha256').update(references).digest('hex') !== manifest.referencesSha256) throw bad('reference table digest mismatch (corrupted)');
  const personBytes = new Uint8Array(manifest.sections.persons);
  await src.read(personBytes);
  const persons = decodePersonSnapshot(personBytes, hasher);
  if (persons.records !== manifest.persons) throw bad(`manifest says ${manifest.persons} person alerts, index holds ${persons.records}`);
  if (!(await src.atEnd())) throw bad('trailing bytes after the last section');
  return {
    manifest,
    state: {
      store: new IndexDocumentStore(key, undefined, { index: docs.index, references, history: manifest.history ?? [] }),
      persons: new PersonAlerts(hasher, { index: persons.index, actions: manifest.actions, seq: manifest.personSeq }),
      positions: { ...manifest.positions },
    },
  };
}

/**
 * A {@link SequentialSource} over chunks (an object store's ReadableStream, a file's read stream). `read`
 * copies across chunk boundaries; running out → `ERR_DECODE`. `onBytes` hears the bytes consumed so far after
 * each piece copied (at most one chunk's worth), for progress.
 */
export function chunkSource(
  chunks: AsyncIterable<Uint8Array>,
  onBytes?: (consumed: number) => void,
): SequentialSource & { atEnd(): Promise<boolean>; readonly consumed: number } {
  const it = chunks[Symbol.asyncIterator]();
  let cur: Uint8Array = new Uint8Array(0);
  let off = 0;
  let consumed = 0;
  let done = false;
  const fill = async (): Promise<boolean> => {
    while (off >= cur.byteLength) {
      if (done) return false;
      const n = await it.next();
      if (n.done) {
        done = true;
        return false;
      }
      cur = n.value;
      off = 0;
    }
    return true;
  };
  return {
    async read(into) {
      let at = 0;
      while (at < into.byteLength) {
        if (!(await fill())) throw bad(`ends early, after ${consumed} bytes`);
        const n = Math.min(into.byteLength - at, cur.byteLength - off);
        into.set(cur.subarray(off, off + n), at);
        at += n;
        off += n;
        consumed += n;
        onBytes?.(consumed);
      }
    },
    async atEnd() {
      return !(await fill());
    },
    get consumed() {
      return consumed;
    },
  };
}
