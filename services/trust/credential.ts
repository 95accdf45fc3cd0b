import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { LiaisonError } from '../sdk/errors.ts';
import { JWS_ALG } from '../sdk/envelope/jws.ts';
import { CREDENTIAL_TYP, credentialIssuer } from '../sdk/trust/credential.ts';
import { jwkThumbprint, type Ed25519PublicJwk } from '../sdk/trust/keys.ts';

/** Verification is the SDK's (`services/sdk/trust/credential.ts`); issuing stays here. */
export * from '../sdk/trust/credential.ts';

/** The signer of credentials: the federation root. */
export interface CredentialSigner {
  privateKey: KeyObject;
  kid: string;
}

/** What {@link issueCredential} needs. */
export interface IssueCredentialInput {
  federation: string;
  agencyId: string;
  /** Kept for the record (the directory carries the name); not a claim of the credential. */
  name?: string;
  country: string;
  roles: string[];
  publicJwk: Ed25519PublicJwk;
  kid: string;
  ttlSeconds: number;
  now?: Date;
}

/** Issue an agency credential JWT signed by the root (alg Ed25519, header kid = root kid, typ `liaison-credential+jwt`). */
export async function issueCredential(root: CredentialSigner, input: IssueCredentialInput): Promise<string> {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const jwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: input.publicJwk.x, kid: input.kid };
  if ((await jwkThumbprint(jwk)) !== input.kid) {
    throw new LiaisonError('ERR_CREDENTIAL_INVALID', `kid ${input.kid} is not the thumbprint of the agency public key`);
  }
  return await new SignJWT({ roles: [...input.roles], country: input.country, cnf: { jwk } })
    .setProtectedHeader({ alg: JWS_ALG, kid: root.kid, typ: CREDENTIAL_TYP })
    .setIssuer(credentialIssuer(input.federation))
    .setSubject(input.agencyId)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.ttlSeconds)
    .sign(root.privateKey);
}

