import type { KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { JWS_ALG } from '../sdk/envelope/jws.ts';
import { credentialIssuer } from '../sdk/trust/credential.ts';
import { DIRECTORY_TTL_SECONDS, DIRECTORY_TYP, policyHash, type Directory, type DirectoryAgency, type DirectoryAgreement } from '../sdk/trust/directory.ts';
import type { Ed25519PublicJwk } from '../sdk/trust/keys.ts';

/** Verification is the SDK's (`services/sdk/trust/directory.ts`); signing stays here. */
export * from '../sdk/trust/directory.ts';

/** The root signer of the directory. */
export interface DirectorySigner {
  privateKey: KeyObject;
  publicJwk: Ed25519PublicJwk;
  kid: string;
}

/** Sign a directory (JWS compact, alg Ed25519, typ `liaison-directory+jwt`, kid = root kid). */
export async function signDirectory(
  root: DirectorySigner,
  input: { federation: string; policyText: string; agencies: DirectoryAgency[]; agreements?: DirectoryAgreement[]; now?: Date },
): Promise<string> {
  const issuedAt = input.now ?? new Date();
  const iat = Math.floor(issuedAt.getTime() / 1000);
  const payload: Directory = {
    federation: input.federation,
    issuedAt: issuedAt.toISOString(),
    policyHash: policyHash(input.policyText),
    policy: input.policyText,
    agencies: input.agencies,
    iss: credentialIssuer(input.federation),
    iat,
    exp: iat + DIRECTORY_TTL_SECONDS,
  };
  if (input.agreements && input.agreements.length > 0) payload.agreements = input.agreements;
  return await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: JWS_ALG, kid: root.kid, typ: DIRECTORY_TYP })
    .sign(root.privateKey);
}

