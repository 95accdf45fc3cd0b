import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { LiaisonError } from '../errors.ts';
import { ACCEPTED_ALGS } from '../envelope/jws.ts';
import { assertEd25519PublicJwk, jwkThumbprint, publicKeyFromJwk, type Ed25519PublicJwk } from './keys.ts';

/** JOSE `typ` of an agency credential. */
export const CREDENTIAL_TYP = 'liaison-credential+jwt';

/** The claims of an agency credential: the root-signed binding of an agency id to its signing key (README, "Security"). */
export interface CredentialClaims {
  /** `liaison-root:<federation name>` */
  iss: string;
  /** agency id */
  sub: string;
  roles: string[];
  country: string;
  /** The agency's message-signing public key, with kid = its RFC 7638 thumbprint. */
  cnf: { jwk: Ed25519PublicJwk & { kid: string } };
  jti: string;
  iat: number;
  exp: number;
}

/** The `iss` of credentials of federation `name`. */
export const credentialIssuer = (federation: string): string => `liaison-root:${federation}`;

const invalid = (message: string, cause?: unknown): LiaisonError =>
  new LiaisonError('ERR_CREDENTIAL_INVALID', message, {}, cause === undefined ? undefined : { cause });

/**
 * Check a credential's root signature, header and claim shapes, without looking at time.
 * Used for directory entries, whose expiry receivers judge against each message's signing time.
 */
export async function verifyCredentialSignature(
  jwt: string,
  rootPublicJwk: Ed25519PublicJwk,
  rootKey: KeyObject = publicKeyFromJwk(rootPublicJwk),
): Promise<CredentialClaims> {
  let header;
  try {
    header = decodeProtectedHeader(jwt);
  } catch (err) {
    throw invalid('credential is not a JWS', err);
  }
  if (!ACCEPTED_ALGS.has(header.alg) || header.typ !== CREDENTIAL_TYP) throw invalid(`credential header is not alg Ed25519 (or EdDSA) / typ ${CREDENTIAL_TYP}`);
  const rootKid = rootPublicJwk.kid ?? (await jwkThumbprint(rootPublicJwk));
  if (header.kid !== rootKid) throw invalid(`credential is signed by key ${String(header.kid)}, not by the federation root ${rootKid}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jwt, rootKey, { algorithms: [...ACCEPTED_ALGS] as string[] }));
  } catch (err) {
    throw invalid('credential signature does not verify against the federation root', err);
  }
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch (err) {
    throw invalid('credential payload is not JSON', err);
  }
  return await parseClaims(claims);
}

async function parseClaims(c: Record<string, unknown>): Promise<CredentialClaims> {
  const str = (k: string): string => {
    if (typeof c[k] !== 'string' || c[k] === '') throw invalid(`credential claim ${k} is missing or not a string`);
    return c[k] as string;
  };
  const num = (k: string): number => {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) throw invalid(`credential claim ${k} is missing or not a number`);
    return c[k] as number;
  };
  const iss = str('iss');
  if (!iss.startsWith('liaison-root:')) throw invalid('credential iss is not liaison-root:<federation>');
  if (!Array.isArray(c.roles) || !c.roles.every((r) => typeof r === 'string')) throw invalid('credential claim roles is not a list of strings');
  const cnf = c.cnf as { jwk?: unknown } | undefined;
  let jwk: Ed25519PublicJwk;
  try {
    jwk = assertEd25519PublicJwk(cnf?.jwk);
  } catch (err) {
    throw invalid(`credential cnf.jwk: ${(err as Error).message}`, err);
  }
  const kid = await jwkThumbprint(jwk);
  if (jwk.kid !== kid) throw invalid('credential cnf.jwk.kid is not the RFC 7638 thumbprint of the key');
  return {
    iss,
    sub: str('sub'),
    roles: [...(c.roles as string[])],
    country: str('country'),
    cnf: { jwk: { ...jwk, kid } },
    jti: str('jti'),
    iat: num('iat'),
    exp: num('exp'),
  };
}

/** Options for {@link verifyCredential}. */
export interface VerifyCredentialOptions {
  /** The time to judge expiry at (default now), e.g. a message's signing time. */
  at?: Date;
  /** When set, `iss` must be `liaison-root:<federation>`. */
  federation?: string;
}

/**
 * Verify an agency credential against the federation root public key and check it is not expired at `at`.
 * Errors: ERR_CREDENTIAL_INVALID (malformed, wrong root, tampered), ERR_CREDENTIAL_EXPIRED.
 */
export async function verifyCredential(jwt: string, rootPublicJwk: Ed25519PublicJwk, opts: VerifyCredentialOptions = {}): Promise<CredentialClaims> {
  const claims = await verifyCredentialSignature(jwt, rootPublicJwk);
  if (opts.federation !== undefined && claims.iss !== credentialIssuer(opts.federation)) {
    throw invalid(`credential iss ${claims.iss} is not ${credentialIssuer(opts.federation)}`);
  }
  const at = Math.floor((opts.at ?? new Date()).getTime() / 1000);
  if (at >= claims.exp) {
    throw new LiaisonError('ERR_CREDENTIAL_EXPIRED', `credential of ${claims.sub} expired at ${new Date(claims.exp * 1000).toISOString()}`, {
      agency: claims.sub,
      exp: claims.exp,
    });
  }
  return claims;
}

