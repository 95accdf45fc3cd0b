import { createHash, randomBytes } from 'node:crypto';

const POOL_SIZE = 16 * 256;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/** 16 fresh random bytes from a pooled CSPRNG buffer (one syscall per 256 ids). */
function nextRandom16(): Buffer {
  if (offset + 16 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + 16));
  offset += 16;
  return out;
}

/** A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = nextRandom16();
  const ms = BigInt(nowMs);
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** True when `id` is a canonical lowercase UUID of version 7. */
export function isUuidv7(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id);
}

/**
 * A deterministic UUIDv7: the timestamp of `base` (a UUIDv7, or milliseconds) and bits from SHA-256
 * of `base` and `parts`. Services that publish effects of a message use it so that re-publishing
 * after a crash yields the same ids (JetStream and receivers then drop the repeat).
 */
export function derivedUuidv7(base: string | number, ...parts: string[]): string {
  const digest = createHash('sha256').update([String(base), ...parts].join('\u0000')).digest();
  const b = Buffer.alloc(16);
  if (typeof base === 'number') {
    const ms = BigInt(Math.max(0, Math.floor(base)));
    for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  } else {
    const ts = isUuidv7(base) ? Buffer.from(base.replace(/-/g, '').slice(0, 12), 'hex') : digest.subarray(16, 22);
    ts.copy(b, 0, 0, 6);
  }
  digest.copy(b, 6, 0, 10);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
