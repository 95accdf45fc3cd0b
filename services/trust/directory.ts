import { openFederation, type Federation } from './federation.ts';
import { writePublicFile } from './key-file.ts';
import { trustPaths } from './paths.ts';
import { listAgencyRecords, type AgencyRecord } from './record.ts';
import { signDirectory, type DirectoryAgency } from './directory-jws.ts';
import { listAppliedAgreements } from './applied-agreements.ts';

export { directoryKey, policyHash, verifyDirectory, DIRECTORY_TYP } from './directory-jws.ts';
export type { Directory, DirectoryAgency, DirectoryAgreement, DirectoryCredential, DirectoryKey } from './directory-jws.ts';

function toDirectoryAgency(r: AgencyRecord): DirectoryAgency {
  const a: DirectoryAgency = {
    id: r.id,
    name: r.name,
    country: r.country,
    roles: [...r.roles],
    credentials: r.credentials.map((c) => ({ ...c })),
  };
  if (r.revokedAt !== undefined) a.revokedAt = r.revokedAt;
  const user = r.nats.users.filter((u) => u.revokedAt === undefined && u.jwt).at(-1);
  if (user?.jwt && r.revokedAt === undefined) a.natsJwt = user.jwt;
  return a;
}

/** Build and sign the federation directory from TRUST_DIR (root key, policy.yaml, agencies/*.json). */
export async function buildDirectory(dir: string, opts: { now?: Date; federation?: Federation } = {}): Promise<string> {
  const fed = opts.federation ?? (await openFederation(dir));
  const agencies = (await listAgencyRecords(fed.dir)).map(toDirectoryAgency);
  const agreements = (await listAppliedAgreements(fed.dir)).map((a) => a.agreement);
  const input = { federation: fed.name, policyText: fed.policyText, agencies, agreements, ...(opts.now ? { now: opts.now } : {}) };
  return await signDirectory(fed.root, input);
}

/** Rebuild TRUST_DIR/directory.jws; returns the new JWS. */
export async function writeDirectory(dir: string, opts: { now?: Date; federation?: Federation } = {}): Promise<string> {
  const jws = await buildDirectory(dir, opts);
  await writePublicFile(trustPaths(opts.federation?.dir ?? dir).directory, jws);
  return jws;
}
