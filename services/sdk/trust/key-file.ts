import { randomBytes, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LiaisonError } from '../errors.ts';
import { assertEd25519PrivateJwk, jwkThumbprint, toPublicJwk, type Ed25519PrivateJwk, type Ed25519PublicJwk } from './keys.ts';

/** A loaded Ed25519 signing key: the private KeyObject, its public JWK (with kid) and the kid (RFC 7638 thumbprint). */
export interface SigningKey {
  privateKey: KeyObject;
  publicJwk: Ed25519PublicJwk;
  kid: string;
}

/**
 * Write a private file atomically: parent directories are created with mode 0700, the data goes to a temporary
 * file created with mode 0600 in the same directory, which is then renamed over `path`.
 */
export async function writePrivateFile(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(path, data, 0o600);
}

/** Write a non-secret file atomically (mode 0644; parent directories 0700). */
export async function writePublicFile(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(path, data, 0o644);
}

async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
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
 * Read a private file, refusing it (like ssh) when group or others have any access:
 * `(mode & 0o077) !== 0` → ERR_KEY_FILE_MODE; missing or unreadable → ERR_KEY_FILE_INVALID.
 */
export async function readPrivateFile(path: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', `private key file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new LiaisonError('ERR_KEY_FILE_INVALID', `private key file ${path} is not a regular file`, { file: path });
    const perm = st.mode & 0o777;
    if ((perm & 0o077) !== 0) {
      const octal = perm.toString(8).padStart(4, '0');
      throw new LiaisonError(
        'ERR_KEY_FILE_MODE',
        `private key file ${path} has mode ${octal}: it is accessible by group or others; run \`chmod 600 ${path}\``,
        { file: path, mode: octal },
      );
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Read and validate an Ed25519 private JWK from a private file (ERR_KEY_FILE_MODE / ERR_KEY_FILE_INVALID). */
export async function readPrivateJwk(path: string): Promise<Ed25519PrivateJwk> {
  const bytes = await readPrivateFile(path);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', `private key file ${path} is not JSON`, { file: path }, { cause: err });
  }
  try {
    return assertEd25519PrivateJwk(value);
  } catch (err) {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', `private key file ${path} does not hold a valid Ed25519 private JWK: ${(err as Error).message}`, { file: path }, { cause: err });
  }
}

/** Load an Ed25519 signing key from a private JWK file. */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  const jwk = await readPrivateJwk(path);
  return await signingKeyFromJwk(jwk);
}

/** Turn a validated private JWK into a {@link SigningKey}. */
export async function signingKeyFromJwk(jwk: Ed25519PrivateJwk): Promise<SigningKey> {
  const privateKey = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' });
  const kid = await jwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...toPublicJwk(jwk), kid }, kid };
}
