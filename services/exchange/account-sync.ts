import { readFile } from 'node:fs/promises';
import type { Logger } from '../sdk/logging.ts';
import { compilePermissions, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { applyAccountUpdates, decodeNatsJwt, listAgencyAccounts, openFederation, refreshExchangeAccount, trustPaths, writeAgencyAccount } from '../trust/index.ts';

/**
 * Keeps the running nats-server's accounts equal to the trust directory's: the exchange account (its exports
 * and its imports of serving agencies' request subjects) and every agency's own account (its imports — what the
 * broker lets it reach — and its user revocations). Enrolment, `policy apply` and revocation write the JWTs;
 * the exchange pushes each one that changed (as the system user) when it sees the directory change.
 */
export interface AccountSync {
  /** Push every account JWT that differs from what was last pushed; returns the accounts pushed. */
  sync(): Promise<string[]>;
  /**
   * Push every account JWT again, changed or not: a cluster node that was down when one was pushed (a revocation,
   * a policy apply) learns it at once when it returns, not at the resolver's next periodic sync.
   */
  resync(): Promise<string[]>;
}

/**
 * Every agency the policy names gets its account before it enrols (its imports from its compiled permissions):
 * the exchange account's imports of serving agencies then stand from the start, and an enrolment adds a user
 * without re-signing any account — an account update re-links the routes through it, dropping requests in flight.
 */
async function ensurePolicyAccounts(trustDir: string, policy: Policy, catalog: TypeCatalog): Promise<void> {
  const fed = await openFederation(trustDir);
  const have = new Set((await listAgencyAccounts(trustDir)).map((a) => a.agencyId));
  for (const id of Object.keys(policy.agencies).sort()) if (!have.has(id)) await writeAgencyAccount(fed, id, compilePermissions(policy, id, catalog));
  await refreshExchangeAccount(fed);
}

/** Start syncing for `trustDir` against the exchange at `url`; re-signs the exchange account first (trust dirs made before it had exports). */
export async function startAccountSync(o: { trustDir: string; url: string; plain?: boolean; logger?: Logger; policy: () => Policy; catalog: TypeCatalog }): Promise<AccountSync> {
  const pushed = new Map<string, string>();
  let running: Promise<string[]> = Promise.resolve([]);
  const once = async (): Promise<string[]> => {
    await ensurePolicyAccounts(o.trustDir, o.policy(), o.catalog);
    // Agencies first: the exchange account imports from serving agencies' accounts, which the server must know.
    // One connection for all of them; the agencies' accounts at once, then the exchange account.
    const changed = (jwts: string[]) => jwts.map((jwt) => ({ jwt, account: decodeNatsJwt(jwt, 'account JWT').sub })).filter((a) => pushed.get(a.account) !== a.jwt);
    const waves = [changed((await listAgencyAccounts(o.trustDir)).map((a) => a.jwt)), changed([(await readFile(trustPaths(o.trustDir).accountJwt, 'utf8')).trim()])].filter((w) => w.length > 0);
    if (waves.length > 0) await applyAccountUpdates({ url: o.url, trustDir: o.trustDir, plain: o.plain }, waves.map((w) => w.map((a) => a.jwt)));
    const done: string[] = [];
    for (const a of waves.flat()) {
      pushed.set(a.account, a.jwt);
      done.push(a.account);
    }
    if (done.length > 0) o.logger?.info({ accounts: done.length }, 'account JWTs pushed to the server');
    return done;
  };
  const sync = () => (running = running.catch(() => []).then(once));
  await sync();
  return {
    sync,
    resync: () =>
      (running = running
        .catch(() => [])
        .then(() => {
          pushed.clear();
          return once();
        })),
  };
}
