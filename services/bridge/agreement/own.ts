import { readFile } from 'node:fs/promises';
import { LiaisonError } from '../../sdk/errors.ts';
import { verifyDirectory } from '../../sdk/trust/directory.ts';
import { assertEd25519PublicJwk, type Ed25519PublicJwk } from '../../sdk/trust/keys.ts';
import { trustPaths } from '../../sdk/trust/paths.ts';

/** What the agreement tools need of a federation's TRUST_DIR: its name, root public key and policy, as its root signed them. */
export interface OwnFederation {
  /** `directory.federation`: the name agreements use. */
  name: string;
  root: Ed25519PublicJwk;
  policyText: string;
}

/**
 * Read TRUST_DIR's root public key and root-signed directory (verified against it): the federation's name and policy.
 * Nothing secret is read. Unreadable or unverifiable → ERR_CONFIG_INVALID / ERR_DIRECTORY_INVALID.
 */
export async function readOwnFederation(dir: string): Promise<OwnFederation> {
  const p = trustPaths(dir);
  let root: Ed25519PublicJwk;
  let jws: string;
  try {
    root = assertEd25519PublicJwk(JSON.parse(await readFile(p.rootPub, 'utf8')));
    jws = (await readFile(p.directory, 'utf8')).trim();
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${dir} is not a federation trust directory (root.pub.jwk, directory.jws): ${(err as Error).message}`, { dir }, { cause: err });
  }
  const d = await verifyDirectory(jws, root);
  return { name: d.federation, root, policyText: d.policy };
}
