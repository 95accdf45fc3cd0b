import { readFile } from 'node:fs/promises';
import { LiaisonError } from '../sdk/errors.ts';
import { compilePermissions, loadPolicyFile, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { enrolAgency, revokeAgency, rotateSigningKey, trustPaths, type EnrolResult } from '../trust/index.ts';

/** The policy a federation was initialised with (TRUST_DIR/policy.yaml). */
export async function federationPolicy(trustDir: string, catalog: TypeCatalog): Promise<Policy> {
  return await loadPolicyFile(trustPaths(trustDir).policy, catalog);
}

/**
 * Enrol an agency the policy names: its name, country and roles come from the policy, its NATS user
 * permissions are compiled from the policy. Unknown agency → ERR_AGENCY_UNKNOWN.
 */
export async function enrolFromPolicy(o: {
  trustDir: string;
  agencyId: string;
  out: string;
  catalog: TypeCatalog;
  servers?: string[];
  /** TLS to the exchange (default true); false: plain TCP, loopback servers only. */
  tls?: boolean;
  ttlSeconds?: number;
  reissue?: boolean;
}): Promise<EnrolResult> {
  const policy = await federationPolicy(o.trustDir, o.catalog);
  const entry = policy.agencies[o.agencyId];
  if (!entry) {
    throw new LiaisonError('ERR_AGENCY_UNKNOWN', `agency "${o.agencyId}" is not named in the federation policy (agencies: ${Object.keys(policy.agencies).join(', ')})`, {
      agency: o.agencyId,
    });
  }
  return await enrolAgency({
    dir: o.trustDir,
    agencyId: o.agencyId,
    name: entry.name,
    country: entry.country,
    roles: entry.roles,
    permissions: compilePermissions(policy, o.agencyId, o.catalog),
    out: o.out,
    servers: o.servers,
    tls: o.tls,
    ttlSeconds: o.ttlSeconds,
    reissue: o.reissue,
  });
}

export { revokeAgency, rotateSigningKey };

/** The policy text of a federation (for printing). */
export async function federationPolicyText(trustDir: string): Promise<string> {
  return await readFile(trustPaths(trustDir).policy, 'utf8');
}
