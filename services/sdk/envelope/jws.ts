import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { LiaisonError } from '../errors.ts';

/**
 * The Liaison JWS profile: RFC 7515 with EdDSA (Ed25519) and an unencoded, detached payload
 * (RFC 7797, `b64: false`). The payload is exactly the received `signed` bytes, so no
 * re-encoding or canonicalisation is ever needed and any JWS library (jose's `flattenedVerify`)
 * verifies a Liaison signature. The hot path below calls node:crypto over the same signing input.
 */
export const JWS_TYP = 'liaison-envelope';

/** The parsed protected header. */
export interface ProtectedHeader {
  alg: 'EdDSA';
  b64: false;
  crit: ['b64'];
  kid: string;
  typ: typeof JWS_TYP;
}

/** A private signing key with its key id (RFC 7638 thumbprint of the public JWK). */
export interface SigningKey {
  privateKey: KeyObject;
  kid: string;
}

/** The three JWS parts as they travel in the Envelope. */
export interface JwsParts {
  /** UTF-8 JSON of the protected header (not base64url: the verifier encodes it). */
  protected: Uint8Array;
  signature: Uint8Array;
}

const DOT = Buffer.from('.');
const headerCache = new Map<string, { bytes: Buffer; b64: Buffer }>();
const parsedCache = new Map<string, { header: ProtectedHeader; b64: Buffer }>();
const CACHE_MAX = 1024;

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, value);
  return value;
}

/** The protected header bytes for a key id (cached: one per signing key). */
export function protectedHeaderFor(kid: string): { bytes: Buffer; b64: Buffer } {
  const hit = headerCache.get(kid);
  if (hit) return hit;
  const json = JSON.stringify({ alg: 'EdDSA', b64: false, crit: ['b64'], kid, typ: JWS_TYP });
  const bytes = Buffer.from(json, 'utf8');
  return remember(headerCache, kid, { bytes, b64: Buffer.from(bytes.toString('base64url'), 'ascii') });
}

/** RFC 7797 signing input: ASCII(BASE64URL(protected)) || '.' || payload. */
export function signingInput(protectedB64: Buffer, payload: Uint8Array): Buffer {
  return Buffer.concat([protectedB64, DOT, payload]);
}

/** Parse and check a protected header; throws ERR_PROTECTED_HEADER_INVALID. Cached by content. */
export function parseProtectedHeader(bytes: Uint8Array): { header: ProtectedHeader; b64: Buffer } {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const hit = parsedCache.get(key);
  if (hit) return hit;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new LiaisonError('ERR_PROTECTED_HEADER_INVALID', 'JWS protected header is not JSON');
  }
  const crit = h.crit;
  const ok =
    h !== null &&
    typeof h === 'object' &&
    h.alg === 'EdDSA' &&
    h.b64 === false &&
    Array.isArray(crit) &&
    crit.length === 1 &&
    crit[0] === 'b64' &&
    typeof h.kid === 'string' &&
    h.kid.length > 0 &&
    h.typ === JWS_TYP &&
    Object.keys(h).every((k) => ['alg', 'b64', 'crit', 'kid', 'typ'].includes(k));
  if (!ok) {
    throw new LiaisonError('ERR_PROTECTED_HEADER_INVALID', 'JWS protected header is not the Liaison profile (alg EdDSA, b64 false, crit [b64], kid, typ)');
  }
  const b64 = Buffer.from(Buffer.from(bytes).toString('base64url'), 'ascii');
  return remember(parsedCache, key, { header: h as unknown as ProtectedHeader, b64 });
}

/** Sign `signed` bytes with the Liaison profile. */
export function signDetached(signed: Uint8Array, key: SigningKey): JwsParts {
  const ph = protectedHeaderFor(key.kid);
  const signature = edSign(null, signingInput(ph.b64, signed), key.privateKey);
  return { protected: ph.bytes, signature };
}

/** Verify a detached Liaison JWS with node:crypto. Returns false on a bad signature (never throws for it). */
export function verifyDetached(signed: Uint8Array, protectedB64: Buffer, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.byteLength !== 64) return false;
  return edVerify(null, signingInput(protectedB64, signed), publicKey, signature);
}

/** The flattened JWS JSON serialization (RFC 7515 §7.2.2) of an envelope, for any JWS library. */
export function toFlattenedJws(parts: JwsParts & { signed: Uint8Array }): { protected: string; payload: Uint8Array; signature: string } {
  return {
    protected: Buffer.from(parts.protected).toString('base64url'),
    payload: parts.signed,
    signature: Buffer.from(parts.signature).toString('base64url'),
  };
}
