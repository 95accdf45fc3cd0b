import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { ACCEPTED_ALGS, JWS_ALG } from '../sdk/envelope/jws.ts';
import { LEDGER_STREAM } from './entry.ts';

/** JWS `typ` of an audit checkpoint. */
export const CHECKPOINT_TYP = 'liaison-audit-checkpoint';

/** What a checkpoint signs: the ledger, how many entries it covers and the hash of the last one. */
export interface CheckpointClaims {
  ledger: string;
  count: number;
  head: string;
  at: string;
}

/**
 * Sign a checkpoint as an Ed25519 compact JWS (RFC 7515, alg Ed25519), computed with node:crypto
 * over the standard signing input `BASE64URL(protected) '.' BASE64URL(payload)`, so any JWS library
 * (jose's `compactVerify`) verifies it with the audit public key.
 */
export function signCheckpoint(c: Omit<CheckpointClaims, 'ledger'>, key: { privateKey: KeyObject; kid: string }): string {
  const protectedB64 = Buffer.from(JSON.stringify({ alg: JWS_ALG, kid: key.kid, typ: CHECKPOINT_TYP })).toString('base64url');
  const claims: CheckpointClaims = { ledger: LEDGER_STREAM, count: c.count, head: c.head, at: c.at };
  const payloadB64 = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${protectedB64}.${payloadB64}`;
  return `${input}.${edSign(null, Buffer.from(input, 'ascii'), key.privateKey).toString('base64url')}`;
}

/** Verify a checkpoint JWS; returns its claims, or a reason it does not verify. */
export function verifyCheckpoint(jws: string, publicKey: KeyObject, kid: string): { ok: true; claims: CheckpointClaims } | { ok: false; reason: string } {
  const parts = jws.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'not a compact JWS' };
  const [p, payload, sig] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let claims: CheckpointClaims;
  try {
    header = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CheckpointClaims;
  } catch {
    return { ok: false, reason: 'protected header or payload is not JSON' };
  }
  if (!ACCEPTED_ALGS.has(header.alg) || header.typ !== CHECKPOINT_TYP) return { ok: false, reason: `not an Ed25519 ${CHECKPOINT_TYP} JWS` };
  if (header.kid !== kid) return { ok: false, reason: `signed by key ${String(header.kid)}, not the audit key ${kid}` };
  const signature = Buffer.from(sig, 'base64url');
  if (signature.byteLength !== 64 || !edVerify(null, Buffer.from(`${p}.${payload}`, 'ascii'), publicKey, signature)) return { ok: false, reason: 'signature does not verify with the audit key' };
  if (claims.ledger !== LEDGER_STREAM || !Number.isInteger(claims.count) || typeof claims.head !== 'string') return { ok: false, reason: 'claims are not {ledger, count, head, at}' };
  return { ok: true, claims };
}
