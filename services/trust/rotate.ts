import { LiaisonError } from '../sdk/errors.ts';
import { inboxPrefixOf, readAgencyConfig, writeAgencyConfig, type AgencyConfig } from './agency-config.ts';
import { issueCredential, verifyCredentialSignature } from './credential.ts';
import { writeDirectory } from './directory.ts';
import { DEFAULT_TTL_SECONDS } from './enrol.ts';
import { openFederation } from './federation.ts';
import { writePrivateFile } from './key-file.ts';
import { generateEd25519, toPublicJwk } from './keys.ts';
import { agencyPaths } from './paths.ts';
import { requireAgencyRecord, writeAgencyRecord, type AgencyRecord } from './record.ts';

/** Options for {@link rotateSigningKey}. */
export interface RotateOptions {
  /** TRUST_DIR */
  dir: string;
  agencyId: string;
  /** AGENCY_DIR: receives the new signing-key.jwk and agency.json (nats.creds is left as is). */
  out: string;
  ttlSeconds?: number;
  now?: Date;
}

/** What {@link rotateSigningKey} produced. */
export interface RotateResult {
  agency: AgencyConfig;
  record: AgencyRecord;
  directory: string;
  /** kid of the new key. */
  keyId: string;
  /** kid of the key it replaced (now `superseded`). */
  supersededKeyId: string;
}

/**
 * Rotate an agency's message-signing key: a new key and credential become active; the old credential stays in the
 * directory as `superseded` with `supersededAt` = now, so messages signed before then still verify. The NATS user is
 * not changed. A revoked agency cannot rotate (ERR_REVOKED).
 */
export async function rotateSigningKey(opts: RotateOptions): Promise<RotateResult> {
  const now = opts.now ?? new Date();
  const fed = await openFederation(opts.dir);
  const record = await requireAgencyRecord(fed.dir, opts.agencyId);
  if (record.revokedAt !== undefined) {
    throw new LiaisonError('ERR_REVOKED', `agency ${opts.agencyId} was revoked at ${record.revokedAt}; its key cannot be rotated`, { agency: opts.agencyId });
  }
  const active = record.credentials.find((c) => c.status === 'active');
  if (!active) throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${opts.agencyId} has no active credential`, { agency: opts.agencyId });
  await verifyCredentialSignature(active.jwt, fed.root.publicJwk);

  const key = await generateEd25519();
  const credential = await issueCredential(fed.root, {
    federation: fed.name,
    agencyId: record.id,
    country: record.country,
    roles: record.roles,
    publicJwk: key.publicJwk,
    kid: key.kid,
    ttlSeconds: opts.ttlSeconds ?? DEFAULT_TTL_SECONDS,
    now,
  });
  active.status = 'superseded';
  active.supersededAt = now.toISOString();
  record.credentials.push({ jwt: credential, kid: key.kid, status: 'active' });

  const prior = await readAgencyConfig(opts.out);
  const agency: AgencyConfig = {
    id: record.id,
    name: record.name,
    country: record.country,
    roles: [...record.roles],
    servers: [...(prior?.servers ?? ['nats://127.0.0.1:4222'])],
    credential,
    keyId: key.kid,
    root: toPublicJwk(fed.root.publicJwk),
    inboxPrefix: inboxPrefixOf(record.id),
    tls: prior?.tls ?? true,
    ca: prior?.ca ?? 'ca.pem',
  };
  await writePrivateFile(agencyPaths(opts.out).signingKey, `${JSON.stringify(key.privateJwk)}\n`);
  await writeAgencyConfig(opts.out, agency);
  await writeAgencyRecord(fed.dir, record);
  const directory = await writeDirectory(fed.dir, { federation: fed, now });
  return { agency, record, directory, keyId: key.kid, supersededKeyId: active.kid };
}
