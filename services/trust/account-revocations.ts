import type { Account } from '@nats-io/jwt';
import type { Federation } from './federation.ts';
import { writePublicFile } from './key-file.ts';
import { decodeNatsJwt, encodeExchangeAccount } from './nats-accounts.ts';
import { trustPaths } from './paths.ts';

/** The user revocations currently in the exchange account JWT (user public key → unix seconds). */
export function accountRevocations(accountJwt: string): Record<string, number> {
  return { ...(decodeNatsJwt<Account>(accountJwt, 'exchange account JWT').nats.revocations ?? {}) };
}

/**
 * Add NATS user public keys to the exchange account's `revocations`, re-sign the account JWT with the operator
 * and write TRUST_DIR/nats/account.jwt. Every user JWT of those keys issued up to now is refused from then on.
 * Returns the new account JWT (push it to the running exchange with `applyAccountUpdate`).
 */
export async function revokeNatsUsers(fed: Federation, userPublicKeys: string[], at: Date = new Date()): Promise<string> {
  const revocations = accountRevocations(fed.nats.account.jwt);
  const when = Math.max(Math.floor(at.getTime() / 1000), Math.floor(Date.now() / 1000));
  for (const pk of userPublicKeys) revocations[pk] = Math.max(revocations[pk] ?? 0, when);
  const jwt = await encodeExchangeAccount({ operatorSeed: fed.nats.operator.seed, accountSeed: fed.nats.account.seed, revocations });
  await writePublicFile(trustPaths(fed.dir).accountJwt, `${jwt}\n`);
  fed.nats.account.jwt = jwt;
  return jwt;
}
