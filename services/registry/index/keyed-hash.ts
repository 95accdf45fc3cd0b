/**
 * Keyed hashes of document numbers, so that nothing the registry holds or persists contains a plaintext number.
 *
 * `HMAC-SHA256(key, "<country>|<normalised number>")`; the index keeps bytes 0–7 as the 64-bit key (`hi`, `lo`,
 * big-endian uint32 halves) and byte 8 as a separate check byte (`check`). Without the 32-byte secret key a
 * stolen index or snapshot cannot be tested against candidate numbers (a plain SHA-256 of a 9-character passport
 * number is brute-forced in minutes).
 *
 * Collisions, at INTERPOL scale (n = 128 M records):
 * - two stored records sharing the 64-bit value: birthday bound n² / 2⁶⁵ = 1.64e16 / 3.69e19 ≈ 4.4e-4;
 * - a check of an unlisted document landing on a stored 64-bit value: n / 2⁶⁴ ≈ 6.9e-12 per check, i.e.
 *   ≈ 0.025 false hits a year at 3.6 bn checks.
 * The index therefore compares 72 bits (the 64-bit value and the check byte, stored in its own byte array): two
 * records equal in 64 bits but not in the check byte are two entries (probing continues past the first), and a
 * check hits only when all 72 bits agree. That gives n² / 2⁷³ ≈ 1.7e-6 for a stored collision and ≈ 1e-4 false
 * hits a year for checks, for one extra byte per slot. Confirming a candidate against a second 32-bit slice would
 * cost four bytes per slot for a gain nobody can observe; and a hit is a candidate anyway, confirmed by the
 * service against the report it points to (the record's `seq`) before a hit notice goes out.
 *
 * @module
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { LiaisonError } from '../../sdk/errors.ts';

/** Length of the registry's hashing key in bytes. */
export const REGISTRY_KEY_BYTES = 32;

/** The truncated keyed hash of one document: the 64-bit key in two uint32 halves and a separate check byte. */
export interface DocumentHash {
  /** Bytes 0–3 of the HMAC, big-endian. */
  readonly hi: number;
  /** Bytes 4–7 of the HMAC, big-endian (also picks the hash-table slot). */
  readonly lo: number;
  /** Byte 8 of the HMAC, compared on lookup in addition to the 64 bits. */
  readonly check: number;
}

/** Computes keyed hashes with one secret key. The key stays inside (a KeyObject); it is never logged or exposed. */
export interface KeyedHasher {
  /** Hash of a document, from an already normalised country code and number. */
  document(country: string, normalisedNumber: string): DocumentHash;
  /** The first `bytes` bytes (≤ 32) of HMAC-SHA256 of `text` (used for person identifiers and name tokens). */
  digest(text: string, bytes: number): Buffer;
  /** A 52-bit non-negative integer from HMAC-SHA256 of `text` (a compact Map key). */
  number52(text: string): number;
  /** A public fingerprint of the key (HMAC of a fixed label), so a snapshot built with another key is refused. */
  readonly fingerprint: string;
}

/** The 64-bit value of a {@link DocumentHash} as a bigint (`hi << 32 | lo`). */
export function hashToBigInt(h: DocumentHash): bigint {
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}

/**
 * Create a {@link KeyedHasher} from a 32-byte secret. Throws `ERR_CONFIG_INVALID` when the key has another length
 * (the message gives the length, never the key).
 */
export function createKeyedHasher(key: Uint8Array): KeyedHasher {
  if (!(key instanceof Uint8Array) || key.length !== REGISTRY_KEY_BYTES) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `registry hashing key must be ${REGISTRY_KEY_BYTES} bytes (got ${key?.length ?? 0})`);
  }
  const secret: KeyObject = createSecretKey(Buffer.from(key));
  const mac = (text: string): Buffer => createHmac('sha256', secret).update(text).digest();
  const fingerprint = mac('liaison.registry.key-fingerprint.v1').subarray(0, 8).toString('hex');
  // The last document hashed: applying one report looks a record up and then upserts it (the service and the
  // store each hash the same document), so remembering one hash saves two HMACs per record. Memory only.
  let lastCountry = '';
  let lastNumber = '';
  let lastHash: DocumentHash | undefined;
  return {
    document(country, normalisedNumber) {
      if (lastHash !== undefined && normalisedNumber === lastNumber && country === lastCountry) return lastHash;
      const d = mac(`${country}|${normalisedNumber}`);
      lastCountry = country;
      lastNumber = normalisedNumber;
      return (lastHash = { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4), check: d[8]! });
    },
    digest(text, bytes) {
      return mac(text).subarray(0, Math.min(32, bytes));
    },
    number52(text) {
      const d = mac(text);
      return (d.readUInt32BE(0) & 0xfffff) * 0x1_0000_0000 + d.readUInt32BE(4);
    },
    fingerprint,
  };
}
