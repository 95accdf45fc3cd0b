import type { KeyObject } from 'node:crypto';
import { policyHash } from '../policy/policy-hash.ts';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { LiaisonError } from '../errors.ts';
import { ACCEPTED_ALGS } from '../envelope/jws.ts';
import { credentialIssuer, verifyCredentialSignature, type CredentialClaims } from './credential.ts';
import { jwkThumbprint, publicKeyFromJwk, type Ed25519PublicJwk } from './keys.ts';

/** JOSE `typ` of the federation directory. */
export const DIRECTORY_TYP = 'liaison-directory+jwt';

/** One credential of an agency in the directory. */
export interface DirectoryCredential {
  jwt: string;
  kid: string;
  status: 'active' | 'superseded';
  /** ISO 8601 */
  supersededAt?: string;
}

/** One agency in the directory. */
export interface DirectoryAgency {
  id: string;
  name: string;
  country: string;
  roles: string[];
  credentials: DirectoryCredential[];
  /** ISO 8601 */
  revokedAt?: string;
  /** The agency's current NATS user JWT (no secret: the seed stays with the agency); re-issued on a policy change. */
  natsJwt?: string;
}

/** The payload of directory.jws: the root-signed list of agencies, their credentials and the policy (README, "Security"). */
export interface Directory {
  federation: string;
  /** ISO 8601 */
  issuedAt: string;
  /** {@link policyHash} of `policy`. */
  policyHash: string;
  policy: string;
  agencies: DirectoryAgency[];
  /** JWT issuer: `liaison-root:<federation>`, as in the credentials (absent from directories signed before it was added). */
  iss?: string;
  /** JWT issued-at, seconds (= issuedAt). */
  iat?: number;
  /** JWT expiry, seconds: {@link DIRECTORY_TTL_SECONDS} after iat; a directory past it is refused. */
  exp?: number;
  /**
   * The cross-federation agreements this federation applied (`liaison bridge apply`), each as stored: its text and
   * both roots' signatures (services/bridge). Absent from directories without any. A client re-verifies each.
   */
  agreements?: DirectoryAgreement[];
}

/** One applied cross-federation agreement, as the directory carries it (`agreement.signed.json`). */
export interface DirectoryAgreement {
  text: string;
  signatures: Record<string, string>;
}

/** How long a signed directory is valid: every enrolment, revocation, rotation and `policy apply` signs a new one. */
export const DIRECTORY_TTL_SECONDS = 365 * 86_400;

/** One key of the directory, resolved for receivers. */
export interface DirectoryKey {
  publicKey: KeyObject;
  claims: CredentialClaims;
  status: 'active' | 'superseded';
  supersededAt?: Date;
  revokedAt?: Date;
}

/** The policy hash the directory carries (the policy module owns it: policy-hash.ts). */
export { policyHash };

const invalid = (message: string, cause?: unknown): LiaisonError =>
  new LiaisonError('ERR_DIRECTORY_INVALID', message, {}, cause === undefined ? undefined : { cause });

const indexes = new WeakMap<Directory, Map<string, DirectoryKey>>();
const indexKey = (agencyId: string, kid: string): string => `${agencyId}\u0000${kid}`;

function isoOrInvalid(value: unknown, what: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(`${what} is not an ISO 8601 time`);
}

/**
 * Verify directory.jws against the root public key: signature, header, payload shape, policy hash, and every
 * credential (root signature, sub = agency id, kid = key thumbprint). Errors: ERR_DIRECTORY_INVALID.
 * The returned object is indexed for {@link directoryKey}.
 */
export async function verifyDirectory(jws: string, rootPublicJwk: Ed25519PublicJwk, now: Date = new Date()): Promise<Directory> {
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch (err) {
    throw invalid('directory is not a JWS', err);
  }
  const rootKid = rootPublicJwk.kid ?? (await jwkThumbprint(rootPublicJwk));
  if (!ACCEPTED_ALGS.has(header.alg) || header.typ !== DIRECTORY_TYP || header.kid !== rootKid) {
    throw invalid(`directory header is not alg Ed25519 (or EdDSA) / typ ${DIRECTORY_TYP} / kid ${rootKid}`);
  }
  const rootKey = publicKeyFromJwk(rootPublicJwk);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, rootKey, { algorithms: [...ACCEPTED_ALGS] as string[] }));
  } catch (err) {
    throw invalid('directory signature does not verify against the federation root', err);
  }
  let d: Directory;
  try {
    d = JSON.parse(new TextDecoder().decode(payload)) as Directory;
  } catch (err) {
    throw invalid('directory payload is not JSON', err);
  }
  if (typeof d !== 'object' || d === null || typeof d.federation !== 'string' || typeof d.policy !== 'string' || !Array.isArray(d.agencies)) {
    throw invalid('directory payload lacks federation, policy or agencies');
  }
  isoOrInvalid(d.issuedAt, 'directory issuedAt');
  if (d.issuedAt === undefined) throw invalid('directory issuedAt is missing');
  if (d.policyHash !== policyHash(d.policy)) throw invalid('directory policyHash does not match its policy');
  if (d.agreements !== undefined && (!Array.isArray(d.agreements) || !d.agreements.every((a) => typeof a?.text === 'string' && typeof a.signatures === 'object' && a.signatures !== null))) {
    throw invalid('directory agreements are malformed');
  }
  checkJwtClaims(d, now);
  const index = new Map<string, DirectoryKey>();
  for (const a of d.agencies) {
    if (typeof a?.id !== 'string' || !Array.isArray(a.credentials) || !Array.isArray(a.roles)) throw invalid('directory agency entry is malformed');
    isoOrInvalid(a.revokedAt, `revokedAt of ${a.id}`);
    for (const c of a.credentials) {
      isoOrInvalid(c?.supersededAt, `supersededAt of a credential of ${a.id}`);
      if (c?.status !== 'active' && c?.status !== 'superseded') throw invalid(`credential status of ${a.id} is not active|superseded`);
      let claims: CredentialClaims;
      try {
        claims = await verifyCredentialSignature(c.jwt, rootPublicJwk, rootKey);
      } catch (err) {
        throw invalid(`credential of ${a.id} (kid ${String(c.kid)}) is invalid: ${(err as Error).message}`, err);
      }
      if (!boundTo(claims, c, a)) throw invalid(`credential of ${a.id} names ${claims.sub} / kid ${claims.cnf.jwk.kid}`);
      index.set(indexKey(a.id, c.kid), toKey(claims, c, a));
    }
  }
  indexes.set(d, index);
  return d;
}

/** iss names this federation, iat is issuedAt, and exp has not passed (each checked when present: older directories lack them). */
function checkJwtClaims(d: Directory, now: Date): void {
  if (d.iss !== undefined && d.iss !== credentialIssuer(d.federation)) throw invalid(`directory iss ${JSON.stringify(d.iss)} is not ${credentialIssuer(d.federation)}`);
  if (d.iat !== undefined && (!Number.isInteger(d.iat) || d.iat !== Math.floor(Date.parse(d.issuedAt) / 1000))) throw invalid('directory iat does not match issuedAt');
  if (d.exp === undefined) return;
  if (!Number.isInteger(d.exp)) throw invalid('directory exp is not a whole number of seconds');
  if (now.getTime() >= d.exp * 1000) throw invalid(`directory expired at ${new Date(d.exp * 1000).toISOString()}: sign a new one (liaison policy apply with the current policy, or any enrolment)`);
}

function toKey(claims: CredentialClaims, c: DirectoryCredential, a: DirectoryAgency): DirectoryKey {
  const key: DirectoryKey = { publicKey: publicKeyFromJwk(claims.cnf.jwk), claims, status: c.status };
  if (c.supersededAt !== undefined) key.supersededAt = new Date(c.supersededAt);
  if (a.revokedAt !== undefined) key.revokedAt = new Date(a.revokedAt);
  return key;
}

function decodeClaims(jwt: string): CredentialClaims {
  const part = jwt.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as CredentialClaims;
}

/** True when a credential belongs to the entry that lists it: issued to that agency id, for the key id it is listed under. */
function boundTo(claims: CredentialClaims, c: DirectoryCredential, a: DirectoryAgency): boolean {
  return claims.sub === a.id && claims.cnf?.jwk?.kid === c.kid;
}

/** Index a directory that did not come from {@link verifyDirectory}: credentials not bound to their entry are left out. */
function indexUnverified(directory: Directory): Map<string, DirectoryKey> {
  const index = new Map<string, DirectoryKey>();
  for (const a of directory.agencies) {
    for (const c of a.credentials) {
      let claims: CredentialClaims;
      try {
        claims = decodeClaims(c.jwt);
      } catch {
        continue;
      }
      if (boundTo(claims, c, a)) index.set(indexKey(a.id, c.kid), toKey(claims, c, a));
    }
  }
  return index;
}

/**
 * Look up the key `kid` of agency `agencyId` in a directory (a Map lookup; KeyObjects are built once per directory).
 * Directories from {@link verifyDirectory} are pre-indexed; others are indexed on first use without signature
 * verification, but a credential listed under another agency's id (or another kid) is never resolved for it.
 */
export function directoryKey(directory: Directory, agencyId: string, kid: string): DirectoryKey | undefined {
  let index = indexes.get(directory);
  if (!index) {
    index = indexUnverified(directory);
    indexes.set(directory, index);
  }
  return index.get(indexKey(agencyId, kid));
}
