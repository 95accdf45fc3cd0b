import { readJsonFile } from './json-file.ts';
import type { Ed25519PublicJwk } from './keys.ts';
import { writePublicFile } from './key-file.ts';
import { agencyPaths } from './paths.ts';

/** AGENCY_DIR/agency.json: what an enrolled agency needs to connect (README, "Security"). */
export interface AgencyConfig {
  id: string;
  name: string;
  country: string;
  roles: string[];
  servers: string[];
  /** The agency credential JWT, signed by the federation root. */
  credential: string;
  /** kid of the signing key in signing-key.jwk. */
  keyId: string;
  /** The federation root public JWK. */
  root: Ed25519PublicJwk;
  /** `_INBOX_<id>`: pass it as `inboxPrefix` when connecting. */
  inboxPrefix: string;
  /**
   * TLS to the exchange (absent: true). The server certificate is verified against the federation CA in `ca`;
   * `false` (enrolled with `--plain`) connects over plain TCP, to loopback servers only.
   */
  tls?: boolean;
  /** The federation CA certificate file, relative to AGENCY_DIR (`ca.pem`). */
  ca?: string;
}

/** The inbox prefix of an agency. */
export const inboxPrefixOf = (agencyId: string): string => `_INBOX_${agencyId}`;

/** Read AGENCY_DIR/agency.json, or undefined when absent. */
export async function readAgencyConfig(dir: string): Promise<AgencyConfig | undefined> {
  return await readJsonFile<AgencyConfig>(agencyPaths(dir).config, 'agency config');
}

/** Write AGENCY_DIR/agency.json. */
export async function writeAgencyConfig(dir: string, config: AgencyConfig): Promise<void> {
  await writePublicFile(agencyPaths(dir).config, `${JSON.stringify(config, null, 2)}\n`);
}
