import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { LiaisonError } from '../errors.ts';

/**
 * The Liaison JWS profile: RFC 7515 with Ed25519 (RFC 9864; `EdDSA` accepted) and an unencoded, detached payload
 * (RFC 7797, `b64: false`). The payload is exactly the received `signed` bytes, so no
 * re-encoding or canonicalisation is ever needed and any JWS library (jose's `flattenedVerify`)
 * verifies a Liaison signature. The hot path below calls node:crypto over the same signing input.
 */
export const JWS_TYP = 'liaison-envelope';

/**
 * The JWS `alg` Liaison signs with: `Ed25519`, the fully specified identifier of RFC 9864 (2025),
 * which deprecates the polymorphic `EdDSA` of RFC 8037 for new signatures.
 */
export const JWS_ALG = 'Ed25519';
/** The `alg` values a verifier accepts: `Ed25519`, and `EdDSA` from senders built before RFC 9864 (the same Ed25519 signature). */
export const ACCEPTED_ALGS: ReadonlySet<unknown> = new Set([JWS_ALG, 'EdDSA']);

/** The parsed protected header. */
export interface ProtectedHeader {
  alg: 'Ed25519' | 'EdDSA';
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
  checkKid(kid);
  const json = JSON.stringify({ alg: JWS_ALG, b64: false, crit: ['b64'], kid, typ: JWS_TYP });
  const bytes = Buffer.from(json, 'utf8');
  return remember(headerCache, kid, { bytes, b64: Buffer.from(bytes.toString('base64url'), 'ascii') });
}

/** RFC 7797 signing input: ASCII(BASE64URL(protected)) || '.' || payload. */
export function signingInput(protectedB64: Buffer, payload: Uint8Array): Buffer {
  return Buffer.concat([protectedB64, DOT, payload]);
}

/** Largest protected header accepted (the Liaison profile with a 43-character thumbprint kid is ~110 bytes). */
export const MAX_PROTECTED_HEADER_BYTES = 512;
/** A key id: base64url, at most 128 characters (an RFC 7638 SHA-256 thumbprint is 43). */
const KID = /^[A-Za-z0-9_-]{1,128}$/;
const PROFILE_KEYS = ['alg', 'b64', 'crit', 'kid', 'typ'];

function invalidProtected(why: string): never {
  throw new LiaisonError('ERR_PROTECTED_HEADER_INVALID', `JWS protected header ${why}; the Liaison profile is {alg Ed25519 (or EdDSA), b64 false, crit [b64], kid, typ ${JWS_TYP}}`);
}

/** Throws ERR_PROTECTED_HEADER_INVALID unless `kid` is a bounded base64url key id. */
export function checkKid(kid: unknown): asserts kid is string {
  if (typeof kid !== 'string' || !KID.test(kid)) invalidProtected('kid is not a base64url key id of 1 to 128 characters');
}

/** The parsed JSON as the Liaison profile, or a typed refusal naming what is wrong. */
function profileOf(json: unknown): ProtectedHeader {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) invalidProtected('is not a JSON object');
  const h = json as Record<string, unknown>;
  const extra = Object.keys(h).find((k) => !PROFILE_KEYS.includes(k));
  if (extra !== undefined) invalidProtected(`has a member outside the profile`);
  const crit = h.crit;
  const ok = ACCEPTED_ALGS.has(h.alg) && h.b64 === false && Array.isArray(crit) && crit.length === 1 && crit[0] === 'b64' && h.typ === JWS_TYP;
  if (!ok) invalidProtected('is not the Liaison profile');
  checkKid(h.kid);
  return h as unknown as ProtectedHeader;
}

/**
 * Parsed headers not yet verified, by their signing-input prefix: {@link verifyDetached} moves one into the
 * cache when a signature over it verifies. Weak, so an unverified header lives only as long as its message.
 */
const unverified = new WeakMap<Buffer, { key: string; parsed: { header: ProtectedHeader; b64: Buffer } }>();

/**
 * Parse and check a protected header; throws ERR_PROTECTED_HEADER_INVALID. The size is checked first
 * (at most {@link MAX_PROTECTED_HEADER_BYTES}). Cached by content, but only once a signature over it has
 * verified ({@link verifyDetached}): whatever unsigned headers a sender floods, the cache holds at most
 * 1024 entries of bounded size, all of them headers of genuine signatures.
 */
export function parseProtectedHeader(bytes: Uint8Array): { header: ProtectedHeader; b64: Buffer } {
  if (bytes.byteLength > MAX_PROTECTED_HEADER_BYTES) invalidProtected(`is ${bytes.byteLength} bytes (at most ${MAX_PROTECTED_HEADER_BYTES})`);
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const hit = parsedCache.get(key);
  if (hit) return hit;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    invalidProtected('is not JSON');
  }
  const header = profileOf(json);
  const b64 = Buffer.from(Buffer.from(bytes).toString('base64url'), 'ascii');
  const parsed = { header, b64 };
  unverified.set(b64, { key, parsed });
  return parsed;
}

/** A header whose signature verified joins the cache. */
function rememberVerified(protectedB64: Buffer): void {
  const pending = unverified.get(protectedB64);
  if (!pending) return;
  unverified.delete(protectedB64);
  remember(parsedCache, pending.key, pending.parsed);
}

/** Size of the received-header cache (entries and bytes held), and its bounds: for tests and diagnostics. */
export function protectedHeaderCacheStats(): { entries: number; bytes: number; maxEntries: number; maxBytes: number } {
  let bytes = 0;
  for (const [k, v] of parsedCache) bytes += k.length + v.b64.byteLength;
  const perEntry = MAX_PROTECTED_HEADER_BYTES + Math.ceil((MAX_PROTECTED_HEADER_BYTES * 4) / 3);
  return { entries: parsedCache.size, bytes, maxEntries: CACHE_MAX, maxBytes: CACHE_MAX * perEntry };
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
  const ok = edVerify(null, signingInput(protectedB64, signed), publicKey, signature);
  if (ok) rememberVerified(protectedB64);
  return ok;
}

/**
 * An Ed25519 check of a signature over a signing input: on the calling thread (a boolean) or on a crypto
 * pool's worker thread (a promise, services/sdk/crypto/pool.ts).
 */
export type SignatureCheck = (signingInput: Uint8Array, signature: Uint8Array, publicKey: KeyObject) => boolean | Promise<boolean>;

/**
 * {@link verifyDetached} with the Ed25519 check done by `check` (a crypto pool): the same signing input and
 * size rule, and a header whose signature verified joins the cache the same way.
 */
export async function verifyDetachedWith(check: SignatureCheck, signed: Uint8Array, protectedB64: Buffer, signature: Uint8Array, publicKey: KeyObject): Promise<boolean> {
  if (signature.byteLength !== 64) return false;
  const ok = await check(signingInput(protectedB64, signed), signature, publicKey);
  if (ok === true) rememberVerified(protectedB64);
  return ok === true;
}

/** An Ed25519 signer of a signing input: a crypto pool's worker thread (services/sdk/crypto/pool.ts). */
export type Signer = (signingInput: Uint8Array, privateKey: KeyObject) => Promise<Uint8Array>;

/** {@link signDetached} with the Ed25519 signature made by `sign` (a crypto pool): the same protected header and signing input. */
export async function signDetachedWith(sign: Signer, signed: Uint8Array, key: SigningKey): Promise<JwsParts> {
  const ph = protectedHeaderFor(key.kid);
  const signature = await sign(signingInput(ph.b64, signed), key.privateKey);
  return { protected: ph.bytes, signature };
}

/** The flattened JWS JSON serialization (RFC 7515 §7.2.2) of an envelope, for any JWS library. */
export function toFlattenedJws(parts: JwsParts & { signed: Uint8Array }): { protected: string; payload: Uint8Array; signature: string } {
  return {
    protected: Buffer.from(parts.protected).toString('base64url'),
    payload: parts.signed,
    signature: Buffer.from(parts.signature).toString('base64url'),
  };
}
