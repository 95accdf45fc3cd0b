/**
 * Snapshots of the registry indexes: a 96-byte header and a body, so a restart loads the index and replays only
 * the stream tail after `streamSequence`.
 *
 * Header (little-endian):
 * | offset | size | field                                                                 |
 * |--------|------|-----------------------------------------------------------------------|
 * | 0      | 8    | magic `LIAISNAP`                                                      |
 * | 8      | 2    | format version (1)                                                    |
 * | 10     | 2    | kind: 1 document index, 2 person index                                |
 * | 12     | 4    | flags (bit 0: arrays little-endian)                                   |
 * | 16     | 8    | record count                                                          |
 * | 24     | 8    | stream sequence covered (the last sequence applied to the index)       |
 * | 32     | 8    | body length in bytes                                                  |
 * | 40     | 8    | key fingerprint (a snapshot made with another key is refused)         |
 * | 48     | 32   | SHA-256 of the body                                                   |
 * | 80     | 16   | reserved, zero                                                        |
 *
 * Document body: capacity (u32), agency-table JSON length (u32), the JSON, zero padding to 8 bytes, then the
 * table's arrays verbatim (`hi`, `lo`, `seq`, `owner`, `meta`, `check`) — loading is a copy, no rehashing.
 * Person body: the stored alerts as JSON (hashes only, no plaintext names or identifiers).
 *
 * Any mismatch (magic, version, kind, length, key, digest, structure) → `LiaisonError` `ERR_DECODE`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { LiaisonError } from '../../sdk/errors.ts';
import { DocumentIndex, type DocumentTables } from './document-index.ts';
import type { KeyedHasher } from './keyed-hash.ts';
import { PersonIndex } from './person-index.ts';
import type { StoredAlert } from './person-record.ts';

/** Size of the snapshot header. */
export const SNAPSHOT_HEADER_BYTES = 96;
/** Snapshot format version written by this module. */
export const SNAPSHOT_VERSION = 1;
const MAGIC = Buffer.from('LIAISNAP', 'latin1');
const KIND_DOCUMENTS = 1;
const KIND_PERSONS = 2;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What a snapshot covers. */
export interface SnapshotInfo {
  /** The last stream sequence applied to the index; replay from the next one. */
  readonly streamSequence: bigint;
  /** Records in the snapshot. */
  readonly records: number;
}

/** A loaded document snapshot. */
export interface LoadedDocumentSnapshot extends SnapshotInfo {
  readonly index: DocumentIndex;
}

/** A loaded person snapshot. */
export interface LoadedPersonSnapshot extends SnapshotInfo {
  readonly index: PersonIndex;
}

interface Header {
  kind: number;
  records: number;
  streamSequence: bigint;
  bodyLength: number;
  fingerprint: string;
  digest: Buffer;
}

const bad = (why: string): LiaisonError => new LiaisonError('ERR_DECODE', `registry snapshot refused: ${why}`);

function encodeHeader(h: Header): Buffer {
  const b = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt16LE(SNAPSHOT_VERSION, 8);
  b.writeUInt16LE(h.kind, 10);
  b.writeUInt32LE(LITTLE_ENDIAN ? 1 : 0, 12);
  b.writeBigUInt64LE(BigInt(h.records), 16);
  b.writeBigUInt64LE(h.streamSequence, 24);
  b.writeBigUInt64LE(BigInt(h.bodyLength), 32);
  Buffer.from(h.fingerprint, 'hex').copy(b, 40);
  h.digest.copy(b, 48);
  return b;
}

function decodeHeader(b: Uint8Array, kind: number, hasher: KeyedHasher): Header {
  if (b.length < SNAPSHOT_HEADER_BYTES) throw bad('shorter than its header');
  const buf = Buffer.from(b.buffer, b.byteOffset, SNAPSHOT_HEADER_BYTES);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw bad('not a Liaison registry snapshot (magic)');
  const version = buf.readUInt16LE(8);
  if (version !== SNAPSHOT_VERSION) throw bad(`format version ${version} (this build reads ${SNAPSHOT_VERSION})`);
  if (buf.readUInt16LE(10) !== kind) throw bad(`kind ${buf.readUInt16LE(10)}, expected ${kind}`);
  if ((buf.readUInt32LE(12) & 1) !== (LITTLE_ENDIAN ? 1 : 0)) throw bad('written on a machine of the other byte order');
  const fingerprint = buf.subarray(40, 48).toString('hex');
  if (fingerprint !== hasher.fingerprint) throw bad('made with another hashing key');
  return {
    kind,
    records: Number(buf.readBigUInt64LE(16)),
    streamSequence: buf.readBigUInt64LE(24),
    bodyLength: Number(buf.readBigUInt64LE(32)),
    fingerprint,
    digest: Buffer.from(buf.subarray(48, 80)),
  };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The document body as a list of byte ranges (the arrays are views, not copies). */
function documentBodyParts(t: DocumentTables): Uint8Array[] {
  const json = Buffer.from(JSON.stringify(t.agencies), 'utf8');
  const prefixLength = 8 + json.length;
  const prefix = Buffer.alloc(prefixLength + ((8 - (prefixLength % 8)) % 8));
  prefix.writeUInt32LE(t.hi.length, 0);
  prefix.writeUInt32LE(json.length, 4);
  json.copy(prefix, 8);
  return [prefix, bytesOf(t.hi), bytesOf(t.lo), bytesOf(t.seq), bytesOf(t.owner), bytesOf(t.meta), bytesOf(t.check)];
}

function digestOf(parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function emptyTables(capacity: number): Omit<DocumentTables, 'size' | 'agencies'> {
  if (!(capacity >= 1024 && capacity <= 2 ** 30 && (capacity & (capacity - 1)) === 0)) throw bad(`capacity ${capacity}`);
  return {
    hi: new Uint32Array(capacity),
    lo: new Uint32Array(capacity),
    seq: new Uint32Array(capacity),
    owner: new Uint16Array(capacity),
    meta: new Uint8Array(capacity),
    check: new Uint8Array(capacity),
  };
}

function arrayParts(t: Omit<DocumentTables, 'size' | 'agencies'>): Uint8Array[] {
  return [bytesOf(t.hi), bytesOf(t.lo), bytesOf(t.seq), bytesOf(t.owner), bytesOf(t.meta), bytesOf(t.check)];
}

function parseAgencies(json: Uint8Array): string[] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch {
    throw bad('agency table is not JSON');
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) throw bad('agency table malformed');
  return v as string[];
}

function finishDocuments(hasher: KeyedHasher, h: Header, arrays: Omit<DocumentTables, 'size' | 'agencies'>, agencies: string[]): LoadedDocumentSnapshot {
  let occupied = 0;
  const meta = arrays.meta;
  for (let i = 0; i < meta.length; i++) if (meta[i] !== 0) occupied++;
  if (occupied !== h.records) throw bad(`header says ${h.records} records, body holds ${occupied}`);
  const index = DocumentIndex.fromTables(hasher, { ...arrays, size: occupied, agencies });
  return { index, records: occupied, streamSequence: h.streamSequence };
}

/** Serialise a document index into one buffer (header + body). */
export function encodeDocumentSnapshot(index: DocumentIndex, options: { streamSequence: bigint }): Buffer {
  const t = index.tables();
  const parts = documentBodyParts(t);
  const bodyLength = parts.reduce((n, p) => n + p.byteLength, 0);
  const header = encodeHeader({
    kind: KIND_DOCUMENTS,
    records: t.size,
    streamSequence: options.streamSequence,
    bodyLength,
    fingerprint: index.hasher.fingerprint,
    digest: digestOf(parts),
  });
  return Buffer.concat([header, ...parts]);
}

/** Load a document index from a buffer made by {@link encodeDocumentSnapshot}. Throws `ERR_DECODE` when corrupt. */
export function decodeDocumentSnapshot(bytes: Uint8Array, hasher: KeyedHasher): LoadedDocumentSnapshot {
  const h = decodeHeader(bytes, KIND_DOCUMENTS, hasher);
  const body = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (body.byteLength !== h.bodyLength) throw bad(`body is ${body.byteLength} bytes, header says ${h.bodyLength}`);
  if (!createHash('sha256').update(body).digest().equals(h.digest)) throw bad('body digest mismatch (corrupted)');
  if (body.byteLength < 8) throw bad('body too short');
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const capacity = view.readUInt32LE(0);
  const jsonLength = view.readUInt32LE(4);
  const prefix = 8 + jsonLength + ((8 - ((8 + jsonLength) % 8)) % 8);
  const arrays = emptyTables(capacity);
  const parts = arrayParts(arrays);
  if (prefix + parts.reduce((n, p) => n + p.byteLength, 0) !== body.byteLength) throw bad('body length disagrees with its capacity');
  const agencies = parseAgencies(body.subarray(8, 8 + jsonLength));
  let off = prefix;
  for (const p of parts) {
    p.set(body.subarray(off, off + p.byteLength));
    off += p.byteLength;
  }
  return finishDocuments(hasher, h, arrays, agencies);
}

async function writeAtomically(path: string, header: Buffer, parts: Uint8Array[]): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    let pos = SNAPSHOT_HEADER_BYTES;
    for (const p of parts) {
      let done = 0;
      while (done < p.byteLength) {
        const { bytesWritten } = await fh.write(p, done, Math.min(p.byteLength - done, 64 << 20), pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    }
    await fh.write(header, 0, header.length, 0);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/**
 * Write a document snapshot to `path` (atomically: a temporary file, fsync, rename; mode 0600), streaming the
 * arrays without building the whole file in memory.
 */
export async function writeDocumentSnapshotFile(path: string, index: DocumentIndex, options: { streamSequence: bigint }): Promise<SnapshotInfo> {
  const t = index.tables();
  const parts = documentBodyParts(t);
  const header = encodeHeader({
    kind: KIND_DOCUMENTS,
    records: t.size,
    streamSequence: options.streamSequence,
    bodyLength: parts.reduce((n, p) => n + p.byteLength, 0),
    fingerprint: index.hasher.fingerprint,
    digest: digestOf(parts),
  });
  await writeAtomically(path, header, parts);
  return { records: t.size, streamSequence: options.streamSequence };
}

/** Bytes read in order from a file or a stream; `read` fills `into` completely or throws `ERR_DECODE`. */
export interface SequentialSource {
  read(into: Uint8Array): Promise<void>;
}

/**
 * Read a document snapshot (header + body) from a sequential source, the arrays straight into place, the
 * digest checked over what was read. `size`, when known, must equal header + body. Throws `ERR_DECODE` when corrupt.
 */
export async function readDocumentSnapshot(src: SequentialSource, hasher: KeyedHasher, size?: number): Promise<LoadedDocumentSnapshot> {
  const headBytes = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  await src.read(headBytes);
  const h = decodeHeader(headBytes, KIND_DOCUMENTS, hasher);
  if (size !== undefined && size !== SNAPSHOT_HEADER_BYTES + h.bodyLength) throw bad(`snapshot is ${size} bytes, header says ${SNAPSHOT_HEADER_BYTES + h.bodyLength}`);
  if (h.bodyLength < 8) throw bad('body too short');
  const sha = createHash('sha256');
  const lead = Buffer.alloc(8);
  await src.read(lead);
  const capacity = lead.readUInt32LE(0);
  const jsonLength = lead.readUInt32LE(4);
  const prefixLength = 8 + jsonLength + ((8 - ((8 + jsonLength) % 8)) % 8);
  if (prefixLength > h.bodyLength) throw bad('agency table longer than the body');
  const prefix = Buffer.alloc(prefixLength);
  lead.copy(prefix);
  await src.read(prefix.subarray(8));
  sha.update(prefix);
  const arrays = emptyTables(capacity);
  const parts = arrayParts(arrays);
  if (prefixLength + parts.reduce((n, p) => n + p.byteLength, 0) !== h.bodyLength) throw bad('body length disagrees with its capacity');
  for (const p of parts) {
    await src.read(p);
    sha.update(p);
  }
  if (!sha.digest().equals(h.digest)) throw bad('body digest mismatch (corrupted)');
  return finishDocuments(hasher, h, arrays, parseAgencies(prefix.subarray(8, 8 + jsonLength)));
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
const SLICE_BYTES = 2 << 20;

/**
 * A point-in-time copy of a document index's arrays, copied in 2 MB slices that yield to the event loop in
 * between (lookups go on). The caller must keep the index from changing until it resolves (the registry holds
 * back reports while it copies); a copy taken so is consistent however long it takes. `onBytes` hears each slice
 * copied (its length in bytes), for progress.
 */
export async function copyDocumentTables(index: DocumentIndex, onBytes?: (n: number) => void): Promise<DocumentTables> {
  const live = index.tables();
  const copy = async <A extends Uint8Array | Uint16Array | Uint32Array>(a: A): Promise<A> => {
    // Not zero-filled (every byte is overwritten below): zeroing 64 MB at once would block for ≈ 10 ms.
    const raw = Buffer.allocUnsafeSlow(a.byteLength);
    const out = new (a.constructor as new (b: ArrayBufferLike, off: number, n: number) => A)(raw.buffer, raw.byteOffset, a.length);
    const step = Math.max(1, Math.floor(SLICE_BYTES / a.BYTES_PER_ELEMENT));
    for (let i = 0; i < a.length; i += step) {
      out.set(a.subarray(i, i + step), i);
      onBytes?.(Math.min(step, a.length - i) * a.BYTES_PER_ELEMENT);
      await yieldToLoop();
    }
    return out;
  };
  return {
    size: live.size,
    agencies: [...live.agencies],
    hi: await copy(live.hi),
    lo: await copy(live.lo),
    seq: await copy(live.seq),
    owner: await copy(live.owner),
    meta: await copy(live.meta),
    check: await copy(live.check),
  };
}

/**
 * A document snapshot of copied tables ({@link copyDocumentTables}) as byte ranges to stream, header first.
 * The digest is computed in slices that yield to the event loop; `options.onBytes` hears each slice hashed.
 */
export async function documentSnapshotParts(
  t: DocumentTables,
  fingerprint: string,
  options: { streamSequence: bigint; onBytes?: (n: number) => void },
): Promise<{ parts: Uint8Array[]; bytes: number; records: number }> {
  const parts = documentBodyParts(t);
  const sha = createHash('sha256');
  for (const p of parts) {
    for (let off = 0; off < p.byteLength; off += SLICE_BYTES) {
      const slice = p.subarray(off, off + SLICE_BYTES);
      sha.update(slice);
      options.onBytes?.(slice.byteLength);
      await yieldToLoop();
    }
  }
  const bodyLength = parts.reduce((n, p) => n + p.byteLength, 0);
  const header = encodeHeader({ kind: KIND_DOCUMENTS, records: t.size, streamSequence: options.streamSequence, bodyLength, fingerprint, digest: sha.digest() });
  return { parts: [header, ...parts], bytes: SNAPSHOT_HEADER_BYTES + bodyLength, records: t.size };
}

/** Load a document snapshot file, reading the arrays straight into place. Throws `ERR_DECODE` when corrupt. */
export async function readDocumentSnapshotFile(path: string, hasher: KeyedHasher): Promise<LoadedDocumentSnapshot> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let pos = 0;
    const src: SequentialSource = {
      async read(into) {
        let done = 0;
        while (done < into.byteLength) {
          const { bytesRead } = await fh.read(into, done, Math.min(into.byteLength - done, 64 << 20), pos);
          if (bytesRead === 0) throw bad('file ends early');
          done += bytesRead;
          pos += bytesRead;
        }
      },
    };
    return await readDocumentSnapshot(src, hasher, size);
  } finally {
    await fh.close();
  }
}

/** Serialise a person index into one buffer (header + JSON body of stored alerts: hashes, no plaintext). */
export function encodePersonSnapshot(index: PersonIndex, options: { streamSequence: bigint }): Buffer {
  const alerts = [...index.alerts()];
  const body = Buffer.from(JSON.stringify(alerts), 'utf8');
  const header = encodeHeader({
    kind: KIND_PERSONS,
    records: alerts.length,
    streamSequence: options.streamSequence,
    bodyLength: body.length,
    fingerprint: index.hasher.fingerprint,
    digest: createHash('sha256').update(body).digest(),
  });
  return Buffer.concat([header, body]);
}

/** Load a person index from {@link encodePersonSnapshot} bytes. Throws `ERR_DECODE` when corrupt. */
export function decodePersonSnapshot(bytes: Uint8Array, hasher: KeyedHasher): LoadedPersonSnapshot {
  const h = decodeHeader(bytes, KIND_PERSONS, hasher);
  const body = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (body.byteLength !== h.bodyLength) throw bad(`body is ${body.byteLength} bytes, header says ${h.bodyLength}`);
  if (!createHash('sha256').update(body).digest().equals(h.digest)) throw bad('body digest mismatch (corrupted)');
  let alerts: unknown;
  try {
    alerts = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw bad('person body is not JSON');
  }
  if (!Array.isArray(alerts) || alerts.length !== h.records) throw bad('person body does not hold the records the header announces');
  const index = PersonIndex.fromStored(hasher, alerts as StoredAlert[]);
  return { index, records: index.size, streamSequence: h.streamSequence };
}

/** Write a person snapshot to `path` (temporary file, fsync, rename; mode 0600). */
export async function writePersonSnapshotFile(path: string, index: PersonIndex, options: { streamSequence: bigint }): Promise<SnapshotInfo> {
  const bytes = encodePersonSnapshot(index, options);
  await writeAtomically(path, bytes.subarray(0, SNAPSHOT_HEADER_BYTES), [bytes.subarray(SNAPSHOT_HEADER_BYTES)]);
  return { records: index.size, streamSequence: options.streamSequence };
}

/** Load a person snapshot file. Throws `ERR_DECODE` when corrupt. */
export async function readPersonSnapshotFile(path: string, hasher: KeyedHasher): Promise<LoadedPersonSnapshot> {
  const fh = await open(path, 'r');
  try {
    return decodePersonSnapshot(await fh.readFile(), hasher);
  } finally {
    await fh.close();
  }
}
