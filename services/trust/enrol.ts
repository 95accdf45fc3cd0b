import { access } from 'node:fs/promises';
import { LiaisonError } from '../sdk/errors.ts';
import { ensureAgencyAccount, revocationsOf, writeAgencyAccount } from './agency-accounts.ts';
import { inboxPrefixOf, readAgencyConfig, writeAgencyConfig, type AgencyConfig } from './agency-config.ts';
import { issueCredential, verifyCredentialSignature } from './credential.ts';
import { writeDirectory } from './directory.ts';
import { openFederation } from './federation.ts';
import { writePrivateFile, writePublicFile } from './key-file.ts';
import { generateEd25519, toPublicJwk } from './keys.ts';
import { issueUser, type NatsPermissions } from './nats-accounts.ts';
import { AGENCY_ID_PATTERN, agencyPaths } from './paths.ts';
import { readAgencyRecord, writeAgencyRecord, type AgencyRecord } from './record.ts';
import { ensureFederationCa } from './tls.ts';

/** Default credential and NATS user lifetime: 30 days. */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;

/** Options for {@link enrolAgency}. */
export interface EnrolOptions {
  /** TRUST_DIR */
  dir: string;
  agencyId: string;
  name: string;
  /** ICAO / ISO 3166-1 alpha-3 code */
  country: string;
  roles: string[];
  /** NATS permissions compiled from the policy for this agency. */
  permissions: NatsPermissions;
  /** AGENCY_DIR to write. */
  out: string;
  servers?: string[];
  /** TLS to the exchange (default true); `false` records plain TCP, which the SDK allows towards loopback only. */
  tls?: boolean;
  ttlSeconds?: number;
  /**
   * Re-enrol an enrolled agency: issue new NATS user creds with `permissions` (and a new credential for the same
   * signing key when name/country/roles changed), keep the signing key, and revoke the agency's previous NATS users.
   */
  reissue?: boolean;
  now?: Date;
}

/** What {@link enrolAgency} produced. */
export interface EnrolResult {
  agency: AgencyConfig;
  record: AgencyRecord;
  /** The new directory.jws. */
  directory: string;
  /** The NATS user public key in nats.creds. */
  natsUser: string;
  /**
   * The agency's own account JWT (its imports, and its earlier NATS users revoked on reissue): push it with
   * `applyAccountUpdate` — a running exchange also pushes it when it sees the new directory.
   */
  accountJwt: string;
}

const exists = async (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

function checkInput(opts: EnrolOptions): void {
  if (!AGENCY_ID_PATTERN.test(opts.agencyId) || opts.agencyId === 'all') {
    throw new LiaisonError('ERR_CONFIG_INVALID', `agency id ${JSON.stringify(opts.agencyId)} must match ${AGENCY_ID_PATTERN} and not be "all"`);
  }
  if (!/^[A-Z]{3}$/.test(opts.country)) throw new LiaisonError('ERR_CONFIG_INVALID', `country ${JSON.stringify(opts.country)} is not a 3-letter code`);
  if (opts.roles.length === 0) throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${opts.agencyId} has no roles`);
  const p = opts.permissions;
  if (!Array.isArray(p?.pub?.allow) || !Array.isArray(p?.sub?.allow)) {
    throw new LiaisonError('ERR_CONFIG_INVALID', 'permissions must be { pub: { allow: string[] }, sub: { allow: string[] } }');
  }
}

/**
 * Enrol an agency: a new Ed25519 signing key, a root-signed credential, a NATS user with the given permissions,
 * AGENCY_DIR (agency.json, signing-key.jwk 0600, nats.creds 0600, the federation CA ca.pem 0644), TRUST_DIR/agencies/<id>.json and a new
 * directory.jws. An enrolled agency is refused (ERR_CONFIG_INVALID) unless `reissue`; a revoked one always is.
 */
export async function enrolAgency(opts: EnrolOptions): Promise<EnrolResult> {
  checkInput(opts);
  const now = opts.now ?? new Date();
  const ttl = opts.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const fed = await openFederation(opts.dir);
  const existing = await readAgencyRecord(fed.dir, opts.agencyId);
  const ap = agencyPaths(opts.out);
  if (existing?.revokedAt !== undefined) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${opts.agencyId} was revoked at ${existing.revokedAt}; it cannot be re-enrolled`, { agency: opts.agencyId });
  }
  if (existing && !opts.reissue) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${opts.agencyId} is already enrolled (use reissue to issue new credentials)`, { agency: opts.agencyId });
  }
  if (!existing && opts.reissue) throw new LiaisonError('ERR_AGENCY_UNKNOWN', `agency ${opts.agencyId} is not enrolled: nothing to reissue`, { agency: opts.agencyId });

  let credential: string;
  let keyId: string;
  let record: AgencyRecord;
  if (!existing) {
    if (await exists(ap.signingKey)) {
      throw new LiaisonError('ERR_CONFIG_INVALID', `${ap.signingKey} already exists: refusing to overwrite another agency's key`, { file: ap.signingKey });
    }
    const key = await generateEd25519();
    keyId = key.kid;
    credential = await issueCredential(fed.root, { federation: fed.name, agencyId: opts.agencyId, country: opts.country, roles: opts.roles, publicJwk: key.publicJwk, kid: key.kid, ttlSeconds: ttl, now });
    await writePrivateFile(ap.signingKey, `${JSON.stringify(key.privateJwk)}\n`);
    record = {
      id: opts.agencyId,
      name: opts.name,
      country: opts.country,
      roles: [...opts.roles],
      enrolledAt: now.toISOString(),
      credentials: [{ jwt: credential, kid: keyId, status: 'active' }],
      nats: { users: [] },
    };
  } else {
    record = existing;
    const active = record.credentials.find((c) => c.status === 'active');
    if (!active) throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${opts.agencyId} has no active credential`, { agency: opts.agencyId });
    const claims = await verifyCredentialSignature(active.jwt, fed.root.publicJwk);
    credential = await issueCredential(fed.root, { federation: fed.name, agencyId: opts.agencyId, country: opts.country, roles: opts.roles, publicJwk: toPublicJwk(claims.cnf.jwk), kid: active.kid, ttlSeconds: ttl, now });
    active.jwt = credential;
    keyId = active.kid;
    record.name = opts.name;
    record.country = opts.country;
    record.roles = [...opts.roles];
  }

  const expiresAt = new Date(now.getTime() + ttl * 1000);
  // The agency's users live in an account of its own; its imports are its permissions (account-routes.ts).
  const account = await ensureAgencyAccount(fed, opts.agencyId);
  const user = await issueUser({ accountSigner: account.seed, name: opts.agencyId, permissions: opts.permissions, allowResponses: opts.permissions.resp, expiresAt });
  const previous = record.nats.users.filter((u) => u.revokedAt === undefined).map((u) => u.publicKey);
  const revocations = revocationsOf(account.jwt);
  if (previous.length > 0) {
    const when = Math.max(Math.floor(now.getTime() / 1000), Math.floor(Date.now() / 1000));
    for (const pk of previous) revocations[pk] = Math.max(revocations[pk] ?? 0, when);
    for (const u of record.nats.users) u.revokedAt ??= now.toISOString();
  }
  const accountJwt = await writeAgencyAccount(fed, opts.agencyId, opts.permissions, revocations);
  record.nats.users.push({ publicKey: user.publicKey, issuedAt: now.toISOString(), expiresAt: expiresAt.toISOString(), jwt: user.jwt });
  await writePrivateFile(ap.natsCreds, user.creds);

  const prior = opts.reissue ? await readAgencyConfig(opts.out) : undefined;
  const agency: AgencyConfig = {
    id: opts.agencyId,
    name: opts.name,
    country: opts.country,
    roles: [...opts.roles],
    servers: [...(opts.servers ?? prior?.servers ?? ['nats://127.0.0.1:4222'])],
    credential,
    keyId,
    root: toPublicJwk(fed.root.publicJwk),
    inboxPrefix: inboxPrefixOf(opts.agencyId),
    tls: opts.tls ?? prior?.tls ?? true,
    ca: 'ca.pem',
  };
  const ca = await ensureFederationCa(fed.dir);
  await writePublicFile(ap.caCert, ca.toString());
  await writeAgencyConfig(opts.out, agency);
  await writeAgencyRecord(fed.dir, record);
  const directory = await writeDirectory(fed.dir, { federation: fed, now });
  return { agency, record, directory, natsUser: user.publicKey, accountJwt };
}
