import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';
import { loadSigningKey, writePrivateFile, writePublicFile, type SigningKey } from './key-file.ts';
import { assertEd25519PublicJwk, generateEd25519, publicKeyFromJwk, type Ed25519PublicJwk } from './keys.ts';
import type { KeyObject } from 'node:crypto';

/** Where the audit ledger's checkpoint-signing key lives inside TRUST_DIR. */
export function auditKeyPaths(trustDir: string): { key: string; pub: string } {
  return { key: join(trustDir, 'audit-key.jwk'), pub: join(trustDir, 'audit.pub.jwk') };
}

/**
 * The audit ledger's signing key (Ed25519 JWK, mode 0600), created on first use next to its
 * public half (`audit.pub.jwk`, 0644), which `liaison audit verify` checks checkpoints against.
 * A key file readable by others is refused (ERR_KEY_FILE_MODE); the key is never logged.
 */
export async function loadOrCreateAuditKey(trustDir: string): Promise<SigningKey> {
  const p = auditKeyPaths(trustDir);
  try {
    return await loadSigningKey(p.key);
  } catch (err) {
    if (!(err instanceof LiaisonError) || err.code !== 'ERR_KEY_FILE_INVALID' || (err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') throw err;
  }
  const g = await generateEd25519();
  await writePrivateFile(p.key, `${JSON.stringify(g.privateJwk)}\n`);
  await writePublicFile(p.pub, `${JSON.stringify(g.publicJwk)}\n`);
  return await loadSigningKey(p.key);
}

/** The audit public key of a federation (ERR_KEY_FILE_INVALID when absent or malformed). */
export async function readAuditPublicKey(trustDir: string): Promise<{ jwk: Ed25519PublicJwk; key: KeyObject }> {
  const file = auditKeyPaths(trustDir).pub;
  let jwk: Ed25519PublicJwk;
  try {
    jwk = assertEd25519PublicJwk(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', `audit public key ${file} is missing or invalid (has the exchange run with the audit ledger?): ${(err as Error).message}`, { file }, { cause: err });
  }
  return { jwk, key: publicKeyFromJwk(jwk) };
}
