import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { natsTlsOptions, serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { readPrivateFile } from './key-file.ts';
import { decodeNatsJwt } from './nats-accounts.ts';
import { trustPaths } from './paths.ts';
import { listAgencyAccounts } from './agency-accounts.ts';

/** Options for {@link applyAccountUpdate}: where the exchange is and how to act as the system account. */
export interface ApplyAccountUpdateOptions {
  /** NATS URL(s) of the exchange. */
  url: string | string[];
  /** The account JWT to install (default: TRUST_DIR/nats/account.jwt). */
  accountJwt?: string;
  /** sys.creds text; or give `trustDir` to read TRUST_DIR/nats/sys.creds (mode-checked). */
  sysCreds?: string;
  trustDir?: string;
  /** The federation CA (PEM) to verify the exchange with when no `trustDir` is given (its tls/ca.pem otherwise). */
  ca?: string;
  /** Plain TCP to an exchange started with `--plain` (loopback only). */
  plain?: boolean;
  timeoutMs?: number;
}

/** The server's answer to a claims update. */
export interface AccountUpdateResult {
  account: string;
  code: number;
  message: string;
  server: string;
}

/**
 * Push an account JWT to a running exchange (full resolver) as the SYS user: request on
 * `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE` and check the reply (code 200). The server then applies the new
 * claims at once, e.g. disconnects users listed in `revocations`; the full resolver also stores the JWT, so it
 * survives a restart. Errors: ERR_EXCHANGE (refused/unexpected reply), ERR_CONNECT, ERR_TIMEOUT.
 */
export async function applyAccountUpdate(opts: ApplyAccountUpdateOptions): Promise<AccountUpdateResult> {
  const p = opts.trustDir === undefined ? undefined : trustPaths(opts.trustDir);
  const accountJwt = opts.accountJwt ?? (p === undefined ? undefined : await readFile(p.accountJwt, 'utf8'));
  if (accountJwt === undefined) throw new LiaisonError('ERR_USAGE', 'applyAccountUpdate needs sysCreds or trustDir');
  const [result] = await applyAccountUpdates(opts, [[accountJwt]]);
  return result!;
}

/**
 * Push several account JWTs over one SYS connection (a TLS handshake and an authentication, not one per JWT):
 * `waves` in order, the JWTs of one wave at once — e.g. agencies' accounts, then the exchange account that imports
 * from them. Errors as {@link applyAccountUpdate}; the first refusal is thrown once its wave has ended.
 */
export async function applyAccountUpdates(opts: Omit<ApplyAccountUpdateOptions, 'accountJwt'>, waves: readonly (readonly string[])[]): Promise<AccountUpdateResult[]> {
  if (opts.sysCreds === undefined && opts.trustDir === undefined) {
    throw new LiaisonError('ERR_USAGE', 'applyAccountUpdate needs sysCreds or trustDir');
  }
  const p = opts.trustDir === undefined ? undefined : trustPaths(opts.trustDir);
  const creds = opts.sysCreds ?? (await readPrivateFile(p!.sysCreds)).toString('utf8');
  const nc = await connectSys(opts, p?.dir, creds);
  const out: AccountUpdateResult[] = [];
  try {
    for (const wave of waves) {
      const results = await Promise.allSettled(wave.map((jwt) => requestClaimsUpdate(nc, jwt.trim(), opts.timeoutMs ?? 5_000)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      for (const r of results) if (r.status === 'fulfilled') out.push(r.value);
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Connect to the exchange as the system account's user (ERR_CONNECT). */
async function connectSys(opts: Omit<ApplyAccountUpdateOptions, 'accountJwt'>, trustDir: string | undefined, creds: string): Promise<NatsConnection> {
  try {
    const tls = trustDir === undefined || opts.plain ? natsTlsOptions(opts.plain ? undefined : opts.ca, opts.url) : await trustDirTls(trustDir, opts.url);
    return await connect({
      servers: serverList(opts.url),
      ...tls,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      name: 'liaison-trust-sys',
      reconnect: false,
    });
  } catch (err) {
    if (err instanceof LiaisonError) throw err;
    throw new LiaisonError('ERR_CONNECT', `cannot connect to the exchange as SYS: ${(err as Error).message}`, {}, { cause: err });
  }
}

/** One claims update request and the check of its reply (ERR_TIMEOUT, ERR_EXCHANGE). */
async function requestClaimsUpdate(nc: NatsConnection, accountJwt: string, timeoutMs: number): Promise<AccountUpdateResult> {
  const account = decodeNatsJwt(accountJwt, 'account JWT').sub;
  let reply;
  try {
    reply = await nc.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.UPDATE`, new TextEncoder().encode(accountJwt), { timeout: timeoutMs });
  } catch (err) {
    throw new LiaisonError('ERR_TIMEOUT', `the exchange did not answer the account claims update: ${(err as Error).message}`, {}, { cause: err });
  }
  let body: { data?: { account?: string; code?: number; message?: string }; error?: { account?: string; code?: number; description?: string }; server?: { name?: string } };
  try {
    body = reply.json();
  } catch (err) {
    throw new LiaisonError('ERR_EXCHANGE', `unexpected reply to the account claims update: ${reply.string()}`, {}, { cause: err });
  }
  if (body.error || body.data?.code !== 200) {
    const e = body.error;
    throw new LiaisonError('ERR_EXCHANGE', `the exchange refused the account update: ${e?.description ?? reply.string()}`, { code: e?.code, account });
  }
  return { account, code: 200, message: body.data.message ?? '', server: body.server?.name ?? '' };
}

/**
 * Push the exchange account JWT and the account JWTs of `agencies` (default: every agency account in the trust
 * dir) to a running exchange: how enrolments, policy changes and revocations reach the broker. One connection; the
 * agencies' accounts at once, then the exchange account (it imports from serving agencies' accounts, which the
 * server must know first).
 */
export async function pushFederationAccounts(opts: { url: string | string[]; trustDir: string; plain?: boolean; agencies?: string[] }): Promise<AccountUpdateResult[]> {
  const p = trustPaths(opts.trustDir);
  const agencies = (await listAgencyAccounts(opts.trustDir)).filter((a) => !opts.agencies || opts.agencies.includes(a.agencyId)).map((a) => a.jwt);
  return await applyAccountUpdates({ url: opts.url, trustDir: opts.trustDir, plain: opts.plain }, [agencies, [(await readFile(p.accountJwt, 'utf8')).trim()]]);
}
