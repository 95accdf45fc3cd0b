import { mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { LiaisonError } from '../sdk/errors.ts';
import { signDirectory } from './directory-jws.ts';
import { loadSigningKey, readPrivateFile, writePrivateFile, writePublicFile, type SigningKey } from './key-file.ts';
import { assertEd25519PublicJwk } from './keys.ts';
import { createNatsTrustChain, decodeNatsJwt, issueUser, keyPairFromSeed, type NatsIdentity } from './nats-accounts.ts';
import { trustPaths } from './paths.ts';
import { createRootKey } from './root.ts';
import { createFederationCa } from './tls.ts';

/** A loaded federation (TRUST_DIR). Holds secrets: never log it. */
export interface Federation {
  dir: string;
  /** The federation name (operator JWT name; credential issuer `liaison-root:<name>`). */
  name: string;
  root: SigningKey;
  policyText: string;
  nats: { operator: NatsIdentity; account: NatsIdentity; system: NatsIdentity };
}

/** Options for {@link initFederation}. */
export interface InitFederationOptions {
  dir: string;
  policyText: string;
  federationName: string;
}

const FEDERATION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

async function isAbsentOrEmpty(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * Create a federation in `dir` (TRUST_DIR layout: `trustPaths` in services/sdk/trust/paths.ts): root key, NATS operator / exchange account /
 * system account, exchange-admin and sys creds, a copy of the policy, an empty agencies/, the first directory.jws and
 * the federation's TLS CA (tls/ca.pem, tls/ca-key.pem 0600).
 * The tree is built in a temporary sibling directory and renamed into place. Refuses (ERR_CONFIG_INVALID) when
 * `dir` exists and is not empty.
 */
export async function initFederation(opts: InitFederationOptions): Promise<Federation> {
  const dir = resolve(opts.dir);
  if (!FEDERATION_NAME.test(opts.federationName)) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `federation name ${JSON.stringify(opts.federationName)} must match ${FEDERATION_NAME}`);
  }
  if (!(await isAbsentOrEmpty(dir))) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${dir} is not empty: refusing to overwrite an existing federation`, { dir });
  }
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(dirname(dir), `.${basename(dir)}.init-`));
  try {
    const p = trustPaths(tmp);
    const root = await createRootKey();
    const chain = await createNatsTrustChain(opts.federationName);
    await writePrivateFile(p.rootKey, `${JSON.stringify(root.privateJwk)}\n`);
    await writePublicFile(p.rootPub, `${JSON.stringify(root.publicJwk)}\n`);
    await writePublicFile(p.policy, opts.policyText);
    await mkdir(p.natsDir, { mode: 0o700 });
    await writePrivateFile(p.operatorSeed, `${chain.operator.seed}\n`);
    await writePublicFile(p.operatorJwt, `${chain.operator.jwt}\n`);
    await writePrivateFile(p.accountSeed, `${chain.account.seed}\n`);
    await writePublicFile(p.accountJwt, `${chain.account.jwt}\n`);
    await writePrivateFile(p.systemSeed, `${chain.system.seed}\n`);
    await writePublicFile(p.systemJwt, `${chain.system.jwt}\n`);
    const admin = await issueUser({ accountSigner: chain.account.seed, name: 'exchange-admin' });
    await writePrivateFile(p.adminCreds, admin.creds);
    const sys = await issueUser({ accountSigner: chain.system.seed, name: 'sys' });
    await writePrivateFile(p.sysCreds, sys.creds);
    await mkdir(p.agenciesDir, { mode: 0o700 });
    const jws = await signDirectory(
      { privateKey: root.privateKey, publicJwk: root.publicJwk, kid: root.kid },
      { federation: opts.federationName, policyText: opts.policyText, agencies: [] },
    );
    await writePublicFile(p.directory, jws);
    await createFederationCa(tmp, opts.federationName);
    try {
      await rename(tmp, dir);
    } catch (err) {
      throw new LiaisonError('ERR_CONFIG_INVALID', `${dir} appeared while initialising: refusing to overwrite it`, { dir }, { cause: err });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return await openFederation(dir);
}

async function readIdentity(seedFile: string, jwtFile: string, what: string): Promise<NatsIdentity> {
  const seed = (await readPrivateFile(seedFile)).toString('utf8').trim();
  const kp = keyPairFromSeed(seed, `${what} seed in ${seedFile}`);
  const jwt = (await readPublicText(jwtFile)).trim();
  const claims = decodeNatsJwt(jwt, `${what} JWT ${jwtFile}`);
  if (claims.sub !== kp.getPublicKey()) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${jwtFile} is not the JWT of the key in ${seedFile}`, { file: jwtFile });
  }
  return { seed, publicKey: kp.getPublicKey(), jwt };
}

async function readPublicText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `federation file ${file} cannot be read: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/**
 * Load the federation in `dir`. Every private file (root key, nkey seeds, creds) must have mode 0600 or
 * stricter (ERR_KEY_FILE_MODE); a missing or inconsistent file → ERR_KEY_FILE_INVALID / ERR_CONFIG_INVALID.
 */
export async function openFederation(dir: string): Promise<Federation> {
  const abs = resolve(dir);
  const p = trustPaths(abs);
  const root = await loadSigningKey(p.rootKey);
  let rootPub;
  try {
    rootPub = assertEd25519PublicJwk(JSON.parse(await readPublicText(p.rootPub)));
  } catch (err) {
    if (err instanceof LiaisonError) throw err;
    throw new LiaisonError('ERR_CONFIG_INVALID', `${p.rootPub} is not an Ed25519 public JWK`, { file: p.rootPub }, { cause: err });
  }
  if (rootPub.x !== root.publicJwk.x) throw new LiaisonError('ERR_CONFIG_INVALID', `${p.rootPub} is not the public half of ${p.rootKey}`);
  const operator = await readIdentity(p.operatorSeed, p.operatorJwt, 'operator');
  const account = await readIdentity(p.accountSeed, p.accountJwt, 'exchange account');
  const system = await readIdentity(p.systemSeed, p.systemJwt, 'system account');
  await readPrivateFile(p.adminCreds);
  await readPrivateFile(p.sysCreds);
  // The TLS CA key (absent in trust dirs made before TLS: `exchange up` creates it) is held to 0600 like the rest.
  await readPrivateFile(p.caKey).catch((err: unknown) => {
    if (err instanceof LiaisonError && err.code === 'ERR_KEY_FILE_INVALID') return undefined;
    throw err;
  });
  const name = decodeNatsJwt(operator.jwt).name;
  return { dir: abs, name, root, policyText: await readPublicText(p.policy), nats: { operator, account, system } };
}
