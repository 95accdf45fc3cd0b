import { LiaisonError } from '../sdk/errors.ts';
import { issueCredential, verifyCredentialSignature } from './credential.ts';
import type { Federation } from './federation.ts';
import { toPublicJwk } from './keys.ts';
import { issueUserJwt, type NatsPermissions } from './nats-accounts.ts';
import { requireAgencyRecord, writeAgencyRecord } from './record.ts';
import { ensureAgencyAccount, writeAgencyAccount } from './agency-accounts.ts';
import { DEFAULT_TTL_SECONDS } from './enrol.ts';

/** What a policy change re-issued for one agency. */
export interface PolicyReissue {
  agencyId: string;
  /** The NATS user whose JWT was re-issued (same key pair; the agency keeps its seed). */
  userPublicKey: string;
  userJwt: string;
  credential: string;
  /** The agency's account JWT with the imports of its new permissions (push it with `applyAccountUpdate`). */
  accountJwt: string;
}

/**
 * Re-issue an enrolled agency's credential (name, country, roles) and its NATS user JWT (permissions)
 * for the same signing key and the same NATS user key pair — nothing secret changes hands; the
 * directory carries both to the agency — and the agency's account JWT (its imports) for the new permissions.
 * The caller revokes the user's older JWTs in that account (revocation time strictly before this issue's
 * second) and pushes it. `refreshExchange: false` leaves the exchange account's imports to the caller, which
 * re-issues several agencies (at once: each writes only its own files) and refreshes it once after the last.
 */
export async function reissueForPolicy(
  fed: Federation,
  o: { agencyId: string; name: string; country: string; roles: string[]; permissions: NatsPermissions; ttlSeconds?: number; now?: Date; refreshExchange?: boolean },
): Promise<PolicyReissue> {
  const record = await requireAgencyRecord(fed.dir, o.agencyId);
  if (record.revokedAt !== undefined) throw new LiaisonError('ERR_REVOKED', `agency ${o.agencyId} is revoked; nothing to re-issue`, { agency: o.agencyId });
  const active = record.credentials.find((c) => c.status === 'active');
  const user = record.nats.users.filter((u) => u.revokedAt === undefined).at(-1);
  if (!active || !user) throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${o.agencyId} has no active credential or NATS user to re-issue`, { agency: o.agencyId });
  const now = o.now ?? new Date();
  const ttl = o.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const claims = await verifyCredentialSignature(active.jwt, fed.root.publicJwk);
  const credential = await issueCredential(fed.root, {
    federation: fed.name,
    agencyId: o.agencyId,
    country: o.country,
    roles: o.roles,
    publicJwk: toPublicJwk(claims.cnf.jwk),
    kid: active.kid,
    ttlSeconds: ttl,
    now,
  });
  const expiresAt = new Date(now.getTime() + ttl * 1000);
  const account = await ensureAgencyAccount(fed, o.agencyId);
  const userJwt = await issueUserJwt({ accountSigner: account.seed, name: o.agencyId, userPublicKey: user.publicKey, permissions: o.permissions, allowResponses: o.permissions.resp, expiresAt });
  active.jwt = credential;
  record.name = o.name;
  record.country = o.country;
  record.roles = [...o.roles];
  user.jwt = userJwt;
  user.issuedAt = now.toISOString();
  user.expiresAt = expiresAt.toISOString();
  await writeAgencyRecord(fed.dir, record);
  const accountJwt = await writeAgencyAccount(fed, o.agencyId, o.permissions, undefined, { refreshExchange: o.refreshExchange });
  return { agencyId: o.agencyId, userPublicKey: user.publicKey, userJwt, credential, accountJwt };
}
