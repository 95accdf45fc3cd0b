import {
  createAccount,
  createOperator,
  createUser,
  decode,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type Account,
  type Export,
  type Import,
  type ClaimsData,
  type KeyPair,
  type User,
} from '@nats-io/jwt';
import { LiaisonError } from '../sdk/errors.ts';
import { EXCHANGE_SERVICE_EXPORTS, EXCHANGE_STREAM_EXPORTS } from './account-routes.ts';

/** NATS publish/subscribe allow lists, as compiled from the policy. */
export interface NatsPermissions {
  pub: { allow: string[] };
  sub: { allow: string[] };
  /** Reply permission for request/reply service hosts (NATS `resp`); absent for plain agencies. */
  resp?: { max: number; ttlMs: number };
}

/** An nkey identity with its JWT. `seed` is secret. */
export interface NatsIdentity {
  seed: string;
  publicKey: string;
  jwt: string;
}

/** The operator, exchange account and system account of a federation. */
export interface NatsTrustChain {
  operator: NatsIdentity;
  account: NatsIdentity;
  system: NatsIdentity;
}

/** A NATS user: its nkey seed (secret), public key, JWT and the `.creds` file text. */
export interface NatsUser {
  seed: string;
  publicKey: string;
  jwt: string;
  creds: string;
}

/** Name of the exchange account. */
export const EXCHANGE_ACCOUNT_NAME = 'LIAISON';
/** Name of the system account. */
export const SYSTEM_ACCOUNT_NAME = 'SYS';

const UNLIMITED_ACCOUNT = {
  conn: -1,
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  leaf: -1,
  wildcards: true,
} as const;

const UNLIMITED_JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } as const;

const seedText = (kp: KeyPair): string => new TextDecoder().decode(kp.getSeed());

/** Decode an nkey seed into a key pair (ERR_KEY_FILE_INVALID when it is not a seed). */
export function keyPairFromSeed(seed: string, what = 'nkey seed'): KeyPair {
  try {
    return fromSeed(new TextEncoder().encode(seed.trim()));
  } catch (err) {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', `${what} is not a valid nkey seed`, {}, { cause: err });
  }
}

/**
 * Encode the exchange account JWT (`LIAISON`), signed by the operator: no connection/subscription/data limits,
 * JetStream enabled without limits, bearer tokens disallowed, the exports agencies import from
 * (account-routes.ts), its imports of serving agencies' request subjects, and the given user revocations
 * (user public key → unix seconds; user JWTs issued at or before that time are refused).
 */
export async function encodeExchangeAccount(opts: {
  operatorSeed: string;
  accountSeed: string;
  revocations?: Record<string, number>;
  imports?: Import[];
}): Promise<string> {
  const op = keyPairFromSeed(opts.operatorSeed, 'operator seed');
  const acc = keyPairFromSeed(opts.accountSeed, 'account seed');
  const account: Partial<Account> = {
    limits: { ...UNLIMITED_ACCOUNT, ...UNLIMITED_JETSTREAM, disallow_bearer: true },
    exports: [...EXCHANGE_SERVICE_EXPORTS, ...EXCHANGE_STREAM_EXPORTS],
  };
  if (opts.imports && opts.imports.length > 0) account.imports = [...opts.imports];
  if (opts.revocations && Object.keys(opts.revocations).length > 0) account.revocations = { ...opts.revocations };
  return await encodeAccount(EXCHANGE_ACCOUNT_NAME, acc.getPublicKey(), account, { signer: op });
}

/**
 * Encode an agency's own account JWT, signed by the operator: no JetStream of its own (it reaches the exchange's
 * through its imports), bearer tokens disallowed, its imports and exports (account-routes.ts), and revocations of
 * its users.
 */
export async function encodeAgencyAccount(opts: {
  operatorSeed: string;
  agencySeed: string;
  agencyId: string;
  imports: Import[];
  exports: Export[];
  revocations?: Record<string, number>;
}): Promise<string> {
  const op = keyPairFromSeed(opts.operatorSeed, 'operator seed');
  const acc = keyPairFromSeed(opts.agencySeed, `account seed of ${opts.agencyId}`);
  const account: Partial<Account> = { limits: { ...UNLIMITED_ACCOUNT, disallow_bearer: true }, imports: [...opts.imports] };
  if (opts.exports.length > 0) account.exports = [...opts.exports];
  if (opts.revocations && Object.keys(opts.revocations).length > 0) account.revocations = { ...opts.revocations };
  return await encodeAccount(`agency:${opts.agencyId}`, acc.getPublicKey(), account, { signer: op });
}

/** A fresh account key pair (for an agency's own account): its seed (secret) and public key. */
export function createAccountKey(): { seed: string; publicKey: string } {
  const kp = createAccount();
  return { seed: seedText(kp), publicKey: kp.getPublicKey() };
}

/** Encode the system account JWT (`SYS`), signed by the operator. */
export async function encodeSystemAccount(opts: { operatorSeed: string; systemSeed: string }): Promise<string> {
  const op = keyPairFromSeed(opts.operatorSeed, 'operator seed');
  const sys = keyPairFromSeed(opts.systemSeed, 'system account seed');
  return await encodeAccount(SYSTEM_ACCOUNT_NAME, sys.getPublicKey(), { limits: { ...UNLIMITED_ACCOUNT } }, { signer: op });
}

/** Create a fresh operator (self-signed, `system_account` set), exchange account and system account. */
export async function createNatsTrustChain(federationName: string): Promise<NatsTrustChain> {
  const op = createOperator();
  const acc = createAccount();
  const sys = createAccount();
  const operatorSeed = seedText(op);
  const systemSeed = seedText(sys);
  const accountSeed = seedText(acc);
  const operatorJwt = await encodeOperator(federationName, op, { system_account: sys.getPublicKey() });
  return {
    operator: { seed: operatorSeed, publicKey: op.getPublicKey(), jwt: operatorJwt },
    account: { seed: accountSeed, publicKey: acc.getPublicKey(), jwt: await encodeExchangeAccount({ operatorSeed, accountSeed }) },
    system: { seed: systemSeed, publicKey: sys.getPublicKey(), jwt: await encodeSystemAccount({ operatorSeed, systemSeed }) },
  };
}

/** Options for {@link issueUser}. */
export interface IssueUserOptions {
  /** Seed of the account that signs (and owns) the user. */
  accountSigner: string;
  name: string;
  /** Allow lists; omitted = no permission limits (admin users only). An empty allow list denies everything. */
  permissions?: NatsPermissions;
  /** Allow publishing to reply subjects of received requests (NATS `resp`). Never for agencies. */
  allowResponses?: { max: number; ttlMs: number };
  expiresAt?: Date;
  /** Restrict the connection types (e.g. `['STANDARD']`); default: any. */
  connectionTypes?: User['allowed_connection_types'];
}

/**
 * Create a NATS user (new nkey) signed by the account. An empty allow list becomes `deny: ['>']`, because NATS
 * reads an empty allow list as "everything allowed".
 */
export async function issueUser(opts: IssueUserOptions): Promise<NatsUser> {
  const account = keyPairFromSeed(opts.accountSigner, 'account seed');
  const user = createUser();
  const claims: Partial<User> = {};
  if (opts.permissions) {
    claims.pub = opts.permissions.pub.allow.length > 0 ? { allow: [...opts.permissions.pub.allow] } : { deny: ['>'] };
    claims.sub = opts.permissions.sub.allow.length > 0 ? { allow: [...opts.permissions.sub.allow] } : { deny: ['>'] };
  }
  if (opts.allowResponses) claims.resp = { max: opts.allowResponses.max, ttl: opts.allowResponses.ttlMs * 1_000_000 };
  if (opts.connectionTypes) claims.allowed_connection_types = [...opts.connectionTypes];
  const encodeOpts = opts.expiresAt ? { exp: Math.floor(opts.expiresAt.getTime() / 1000) } : {};
  const jwt = await encodeUser(opts.name, user, account, claims, encodeOpts);
  const seed = seedText(user);
  return { seed, publicKey: user.getPublicKey(), jwt, creds: formatCreds(jwt, seed) };
}

/**
 * A new user JWT for an existing NATS user (its public key; the seed stays with the agency): how a
 * policy change reaches a connected agency without new key material. Issued at the current second.
 */
export async function issueUserJwt(opts: Omit<IssueUserOptions, 'connectionTypes'> & { userPublicKey: string; permissions: NatsPermissions }): Promise<string> {
  const account = keyPairFromSeed(opts.accountSigner, 'account seed');
  const claims: Partial<User> = {
    pub: opts.permissions.pub.allow.length > 0 ? { allow: [...opts.permissions.pub.allow] } : { deny: ['>'] },
    sub: opts.permissions.sub.allow.length > 0 ? { allow: [...opts.permissions.sub.allow] } : { deny: ['>'] },
  };
  if (opts.allowResponses) claims.resp = { max: opts.allowResponses.max, ttl: opts.allowResponses.ttlMs * 1_000_000 };
  const encodeOpts = opts.expiresAt ? { exp: Math.floor(opts.expiresAt.getTime() / 1000) } : {};
  return await encodeUser(opts.name, opts.userPublicKey, account, claims, encodeOpts);
}

/** The standard decorated `.creds` text (user JWT + user nkey seed) read by `credsAuthenticator`. */
export function formatCreds(jwt: string, seed: string): string {
  return new TextDecoder().decode(fmtCreds(jwt, keyPairFromSeed(seed, 'user seed')));
}

/**
 * JWTs already decoded and signature-checked, by their exact text (at most {@link VERIFIED_CACHE_SIZE}, oldest
 * dropped first). The nats.js check is pure-JS Ed25519, ≈ 10 ms per JWT (50 ms on a loaded machine), and a policy
 * apply or an account sync decodes every agency's account JWT and user JWTs several times: the same text verifies
 * the same way, so it is checked once. A text that failed is not kept (it is checked, and refused, every time).
 */
const verified = new Map<string, ClaimsData<unknown>>();
const VERIFIED_CACHE_SIZE = 1_024;

/** Decode and signature-check a NATS JWT; returns its claims (a copy of its own; ERR_CONFIG_INVALID when it does not decode). */
export function decodeNatsJwt<T = unknown>(jwt: string, what = 'NATS JWT'): ClaimsData<T> {
  const text = jwt.trim();
  const known = verified.get(text);
  if (known) return structuredClone(known) as ClaimsData<T>;
  let claims: ClaimsData<T>;
  try {
    claims = decode<T>(text);
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${what} does not decode: ${(err as Error).message}`, {}, { cause: err });
  }
  if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
  verified.set(text, structuredClone(claims) as ClaimsData<unknown>);
  return claims;
}
