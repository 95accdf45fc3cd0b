import { mkdir, readdir, readFile } from 'node:fs/promises';
import type { Account } from '@nats-io/jwt';
import { LiaisonError } from '../sdk/errors.ts';
import { EXCHANGE_SERVICE_EXPORTS, EXCHANGE_STREAM_EXPORTS, agencyExports, agencyImports, exchangeImports } from './account-routes.ts';
import type { Federation } from './federation.ts';
import { readPrivateFile, writePrivateFile, writePublicFile } from './key-file.ts';
import { createAccountKey, decodeNatsJwt, encodeAgencyAccount, encodeExchangeAccount, keyPairFromSeed, type NatsPermissions } from './nats-accounts.ts';
import { trustPaths } from './paths.ts';
import { listAgencyRecords } from './record.ts';

/** An agency's own NATS account. `seed` is secret. */
export interface AgencyAccount {
  agencyId: string;
  seed: string;
  publicKey: string;
  /** The current account JWT, when one was written. */
  jwt?: string;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The agency's account (seed and current JWT), creating its key on first use. */
export async function ensureAgencyAccount(fed: Federation, agencyId: string): Promise<AgencyAccount> {
  const p = trustPaths(fed.dir);
  await mkdir(p.agencyAccountsDir, { recursive: true, mode: 0o700 });
  let seed: string;
  if ((await readText(p.agencyAccountSeed(agencyId))) === undefined) {
    seed = createAccountKey().seed;
    await writePrivateFile(p.agencyAccountSeed(agencyId), `${seed}\n`);
  } else seed = (await readPrivateFile(p.agencyAccountSeed(agencyId))).toString('utf8').trim();
  const publicKey = keyPairFromSeed(seed, `account seed of ${agencyId}`).getPublicKey();
  const jwt = await readText(p.agencyAccountJwt(agencyId));
  return { agencyId, seed, publicKey, ...(jwt ? { jwt } : {}) };
}

/** The user revocations in an account JWT. */
export function revocationsOf(jwt: string | undefined): Record<string, number> {
  return jwt ? { ...(decodeNatsJwt<Account>(jwt, 'account JWT').nats.revocations ?? {}) } : {};
}

/**
 * Write the agency's account JWT for its compiled permissions (imports from the exchange; exports of the
 * request subjects it serves), keeping its user revocations, then the exchange account's imports (unless
 * `refreshExchange: false`: a caller writing several agencies' accounts refreshes it once, after the last). Returns the
 * agency account JWT. The running exchange pushes both when it next sees the directory change.
 */
export async function writeAgencyAccount(
  fed: Federation,
  agencyId: string,
  permissions: NatsPermissions,
  revocations?: Record<string, number>,
  opts: { refreshExchange?: boolean } = {},
): Promise<string> {
  const refresh = async () => {
    if (opts.refreshExchange !== false) await refreshExchangeAccount(fed);
  };
  const acc = await ensureAgencyAccount(fed, agencyId);
  const imports = agencyImports(permissions, fed.nats.account.publicKey);
  const exports = agencyExports(permissions);
  const wanted = revocations ?? revocationsOf(acc.jwt);
  if (acc.jwt) {
    // Unchanged claims are not re-signed (an update makes the server re-link the routes through this account).
    const cur = decodeNatsJwt<Account>(acc.jwt, `account JWT of ${agencyId}`).nats;
    if (sameJson(cur.imports ?? [], imports) && sameJson(cur.exports ?? [], exports) && sameJson([cur.revocations ?? {}], [wanted])) {
      await refresh();
      return acc.jwt;
    }
  }
  const jwt = await encodeAgencyAccount({ operatorSeed: fed.nats.operator.seed, agencySeed: acc.seed, agencyId, imports, exports, revocations: wanted });
  await writePublicFile(trustPaths(fed.dir).agencyAccountJwt(agencyId), `${jwt}\n`);
  await refresh();
  return jwt;
}

/**
 * Add the agency's NATS users to its account's revocations (every JWT of those keys issued up to `at` is refused)
 * and re-sign it. Returns the new account JWT (push it with `applyAccountUpdate`).
 */
export async function revokeAgencyUsers(fed: Federation, agencyId: string, userPublicKeys: string[], at: Date = new Date(), opts: { exact?: boolean } = {}): Promise<string> {
  const acc = await ensureAgencyAccount(fed, agencyId);
  if (!acc.jwt) throw new LiaisonError('ERR_CONFIG_INVALID', `agency ${agencyId} has no account JWT to revoke users in`, { agency: agencyId });
  const claims = decodeNatsJwt<Account>(acc.jwt, `account JWT of ${agencyId}`).nats;
  const revocations = revocationsOf(acc.jwt);
  // Not in the past unless asked (`exact`: a policy change revokes JWTs up to a second it waited past).
  const when = opts.exact ? Math.floor(at.getTime() / 1000) : Math.max(Math.floor(at.getTime() / 1000), Math.floor(Date.now() / 1000));
  for (const pk of userPublicKeys) revocations[pk] = Math.max(revocations[pk] ?? 0, when);
  const jwt = await encodeAgencyAccount({
    operatorSeed: fed.nats.operator.seed,
    agencySeed: acc.seed,
    agencyId,
    imports: claims.imports ?? [],
    exports: claims.exports ?? [],
    revocations,
  });
  await writePublicFile(trustPaths(fed.dir).agencyAccountJwt(agencyId), `${jwt}\n`);
  return jwt;
}

/** Every agency account JWT in the trust dir: agency id, account public key and JWT. */
export async function listAgencyAccounts(dir: string): Promise<{ agencyId: string; publicKey: string; jwt: string }[]> {
  const p = trustPaths(dir);
  const names = await readdir(p.agencyAccountsDir).catch(() => [] as string[]);
  const out: { agencyId: string; publicKey: string; jwt: string }[] = [];
  for (const n of names.filter((x) => x.endsWith('.jwt')).sort()) {
    const agencyId = n.slice(0, -'.jwt'.length);
    const jwt = (await readText(p.agencyAccountJwt(agencyId)))!;
    out.push({ agencyId, publicKey: decodeNatsJwt(jwt, `account JWT of ${agencyId}`).sub, jwt });
  }
  return out;
}

/**
 * Re-sign the exchange account JWT with the imports of every serving agency's request subjects (its exports and
 * revocations unchanged) and write it. A request type served by two agencies cannot be routed:
 * ERR_CONFIG_INVALID names it.
 */
export async function refreshExchangeAccount(fed: Federation): Promise<string> {
  const serving = (await listAgencyAccounts(fed.dir)).map((a) => ({ agency: a.agencyId, account: a.publicKey, exports: decodeNatsJwt<Account>(a.jwt).nats.exports ?? [] }));
  const { imports, conflicts } = exchangeImports(serving);
  if (conflicts.length > 0) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `request subjects served by more than one agency cannot be routed: ${conflicts.join(', ')} (one agency may serve each request type; replicas share it)`);
  }
  const current = decodeNatsJwt<Account>(fed.nats.account.jwt, 'exchange account JWT').nats;
  const exports = [...EXCHANGE_SERVICE_EXPORTS, ...EXCHANGE_STREAM_EXPORTS];
  const revocations = { ...revocationsOf(fed.nats.account.jwt), ...(await legacyAgencyUsers(fed)) };
  // Unchanged claims are not re-signed: every update of the exchange account makes the server re-link the
  // agencies' imports, which drops the response routes of requests in flight (pulls are re-issued within seconds).
  if (sameJson(current.imports ?? [], imports) && sameJson(current.exports ?? [], exports) && sameJson([current.revocations ?? {}], [revocations])) return fed.nats.account.jwt;
  const jwt = await encodeExchangeAccount({ operatorSeed: fed.nats.operator.seed, accountSeed: fed.nats.account.seed, revocations, imports });
  await writePublicFile(trustPaths(fed.dir).accountJwt, `${jwt}\n`);
  fed.nats.account.jwt = jwt;
  return jwt;
}

/** Order-insensitive equality of two lists of JWT claim objects (keys sorted). */
function sameJson(a: readonly object[], b: readonly object[]): boolean {
  const norm = (xs: readonly object[]) => xs.map((x) => JSON.stringify(Object.fromEntries(Object.entries(x).sort(([k1], [k2]) => (k1 < k2 ? -1 : 1))))).sort();
  const na = norm(a);
  const nb = norm(b);
  return na.length === nb.length && na.every((x, i) => x === nb[i]);
}

/**
 * Agency users issued in the exchange account itself (enrolled before agencies had accounts of their own): each is
 * revoked there, at its own issue time (a stable value, so the claims do not change from one refresh to the next),
 * so old credentials cannot join the account that holds JetStream. Such agencies re-enrol with `--reissue`.
 */
async function legacyAgencyUsers(fed: Federation): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await listAgencyRecords(fed.dir)) {
    for (const u of r.nats.users) {
      if (!u.jwt) continue;
      const claims = decodeNatsJwt(u.jwt, `NATS user JWT of ${r.id}`);
      if (claims.iss === fed.nats.account.publicKey) out[u.publicKey] = Math.max(out[u.publicKey] ?? 0, claims.iat ?? Math.floor(Date.parse(u.issuedAt) / 1000));
    }
  }
  return out;
}
