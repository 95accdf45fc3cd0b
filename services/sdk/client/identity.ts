import { join } from 'node:path';
import { LiaisonError } from '../errors.ts';
import { readAgencyConfig } from '../trust/agency-config.ts';
import { loadSigningKey, readPrivateFile } from '../trust/key-file.ts';
import type { Ed25519PublicJwk } from '../trust/keys.ts';
import type { SigningKey } from '../envelope/jws.ts';
import { readAgencyCa } from './nats-tls.ts';

/** Everything an agency needs to join the exchange, loaded from its AGENCY_DIR. */
export interface AgencyIdentity {
  id: string;
  name: string;
  country: string;
  roles: string[];
  servers: string[];
  credential: string;
  /** The federation root public key: the trust anchor for the directory and credentials. */
  root: Ed25519PublicJwk;
  key: SigningKey;
  /** Contents of nats.creds (user JWT + nkey seed). Never logged. */
  creds: Uint8Array;
  /** The federation CA (PEM) the exchange's TLS certificate is verified with; undefined: plain TCP, loopback only. */
  ca?: string;
}

/**
 * Load AGENCY_DIR: agency.json, signing-key.jwk, nats.creds and the federation CA (ca.pem). Private files must have mode 0600
 * (ERR_KEY_FILE_MODE otherwise, like ssh).
 */
export async function loadAgencyDir(dir: string): Promise<AgencyIdentity> {
  const config = await readAgencyConfig(dir);
  if (!config) throw new LiaisonError('ERR_CONFIG_INVALID', `${dir} is not an agency directory (no agency.json)`, { dir });
  const signing = await loadSigningKey(join(dir, 'signing-key.jwk'));
  if (signing.kid !== config.keyId) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${dir}/signing-key.jwk (kid ${signing.kid}) is not the key agency.json names (${config.keyId})`, { dir });
  }
  const creds = await readPrivateFile(join(dir, 'nats.creds'));
  return {
    id: config.id,
    name: config.name,
    country: config.country,
    roles: config.roles,
    servers: config.servers,
    credential: config.credential,
    root: config.root,
    key: { privateKey: signing.privateKey, kid: signing.kid },
    creds: new Uint8Array(creds),
    ca: await readAgencyCa(dir, config),
  };
}
