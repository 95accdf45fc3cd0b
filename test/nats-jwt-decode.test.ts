/**
 * decodeNatsJwt keeps the JWTs it verified (a policy apply and an account sync decode every agency's account and
 * user JWTs several times; the pure-JS signature check costs ≈ 10 ms each): the cache must never let a JWT through
 * that does not verify, nor let one caller's changes to the claims reach another.
 */
import type { Account } from '@nats-io/jwt';
import { describe, expect, it } from 'vitest';
import { createAccountKey, createNatsTrustChain, decodeNatsJwt, encodeAgencyAccount } from '../services/trust/nats-accounts.ts';

/** The same JWT with its payload replaced by `claims` (the signature no longer covers it). */
function withPayload(jwt: string, claims: unknown): string {
  const [h, , sig] = jwt.split('.');
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
}

describe('decodeNatsJwt: verified once per exact text, never a forgery', () => {
  it('a JWT altered after its genuine text was decoded is refused; a changed signature too; the claims are each caller\'s own', async () => {
    const chain = await createNatsTrustChain('decode-cache');
    const agency = createAccountKey();
    const jwt = await encodeAgencyAccount({ operatorSeed: chain.operator.seed, agencySeed: agency.seed, agencyId: 'xa-police', imports: [], exports: [], revocations: { UAAA: 1 } });

    const first = decodeNatsJwt<Account>(jwt, 'account JWT');
    expect(first.sub).toBe(agency.publicKey);
    expect(first.nats.revocations).toEqual({ UAAA: 1 });
    // Decoded again (from the cache): the same claims, surrounding whitespace ignored as before.
    expect(decodeNatsJwt<Account>(`${jwt}\n`, 'account JWT')).toEqual(first);

    // The payload changed (a revocation dropped), the genuine signature kept: refused although the genuine text is known.
    const forged = withPayload(jwt, { ...first, nats: { ...first.nats, revocations: {} } });
    expect(() => decodeNatsJwt(forged, 'account JWT')).toThrow(/account JWT does not decode: sig verification failed/);
    // Another signature on the same header and payload: refused.
    const [h, p] = jwt.split('.');
    const other = await encodeAgencyAccount({ operatorSeed: chain.operator.seed, agencySeed: agency.seed, agencyId: 'xa-police', imports: [], exports: [], revocations: { UAAB: 2 } });
    expect(() => decodeNatsJwt([h, p, other.split('.')[2]].join('.'), 'account JWT')).toThrow(/sig verification failed/);
    // Refused every time, not only the first.
    expect(() => decodeNatsJwt(forged, 'account JWT')).toThrow(/sig verification failed/);

    // A caller that changes its claims changes nobody else's.
    first.nats.revocations!['UEVIL'] = 9;
    const again = decodeNatsJwt<Account>(jwt, 'account JWT');
    again.nats.revocations!['UOTHER'] = 7;
    expect(decodeNatsJwt<Account>(jwt, 'account JWT').nats.revocations).toEqual({ UAAA: 1 });
  });
});
