import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';

/** An Ed25519 public key as a JWK (RFC 8037); `kid` is its RFC 7638 thumbprint when present. */
export interface Ed25519PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid?: string;
}

/** An Ed25519 private key as a JWK. */
export interface Ed25519PrivateJwk extends Ed25519PublicJwk {
  d: string;
}

/** A freshly generated Ed25519 key pair in JWK form. */
export interface GeneratedKey {
  privateJwk: Ed25519PrivateJwk;
  publicJwk: Ed25519PublicJwk;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** RFC 7638 thumbprint (SHA-256, base64url) of the public part of an Ed25519 JWK. */
export async function jwkThumbprint(jwk: Ed25519PublicJwk): Promise<string> {
  return await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'sha256');
}

/** The public members of a JWK (drops `d` and anything else). */
export function toPublicJwk(jwk: Ed25519PublicJwk): Ed25519PublicJwk {
  return jwk.kid === undefined ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x } : { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: jwk.kid };
}

/** Generate an Ed25519 key pair; both JWKs carry kid = thumbprint. */
export async function generateEd25519(): Promise<GeneratedKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const exported = privateKey.export({ format: 'jwk' });
  const base: Ed25519PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) };
  const kid = await jwkThumbprint(base);
  return {
    privateJwk: { ...base, d: String(exported.d), kid },
    publicJwk: { ...base, kid },
    kid,
    privateKey,
    publicKey,
  };
}

/** A node:crypto public KeyObject for an Ed25519 public JWK. */
export function publicKeyFromJwk(jwk: Ed25519PublicJwk): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
}

/** Validate that `value` is an Ed25519 public JWK (throws a plain Error; callers wrap it with their code). */
export function assertEd25519PublicJwk(value: unknown): Ed25519PublicJwk {
  if (typeof value !== 'object' || value === null) throw new Error('JWK is not an object');
  const v = value as Record<string, unknown>;
  if (v.kty !== 'OKP' || v.crv !== 'Ed25519') throw new Error('JWK is not kty OKP / crv Ed25519');
  if (typeof v.x !== 'string' || !B64URL.test(v.x) || Buffer.from(v.x, 'base64url').length !== 32) throw new Error('JWK x is not a 32-byte base64url value');
  if (v.kid !== undefined && typeof v.kid !== 'string') throw new Error('JWK kid is not a string');
  return v.kid === undefined ? { kty: 'OKP', crv: 'Ed25519', x: v.x } : { kty: 'OKP', crv: 'Ed25519', x: v.x, kid: v.kid as string };
}

/** Validate that `value` is an Ed25519 private JWK whose `x` matches its `d`. */
export function assertEd25519PrivateJwk(value: unknown): Ed25519PrivateJwk {
  const pub = assertEd25519PublicJwk(value);
  const d = (value as Record<string, unknown>).d;
  if (typeof d !== 'string' || !B64URL.test(d) || Buffer.from(d, 'base64url').length !== 32) throw new Error('JWK d is missing or not a 32-byte base64url value');
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.x, d }, format: 'jwk' });
  if (createPublicKey(key).export({ format: 'jwk' }).x !== pub.x) throw new Error('JWK x does not match d');
  return { ...pub, d };
}
