import { sign as edSign, verify as edVerify } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ACCEPTED_ALGS, JWS_ALG, type SigningKey } from '../envelope/jws.ts';
import type { KeyResolver } from '../envelope/open.ts';
import { LiaisonError } from '../errors.ts';

/**
 * A service's signed "busy" statement (issue 16): one Ed25519 compact JWS (RFC 7515, `typ` {@link BUSY_TYP}) saying
 * "agency S was busy, for this reason, between `iat` and `exp`", sent as-is, in the {@link BUSY_HEADER} header of an
 * `ERR_BUSY` refusal, to every request the service refuses in that window. A refusal then costs no signature of its
 * own — a flood cannot make the service sign once per request — yet the requester believes only a refusal the
 * service vouched for ({@link verifyBusyStatement}).
 *
 * Why a replayed statement cannot hurt: it is bound to no request and to no requester, and claims nothing but that S
 * was busy during a window of a few seconds. Replies reach a requester only along its request's response route,
 * which the exchange maps into the requester's own account; who could put a copy there (the exchange) could as well
 * drop the request. Within its window a replay says something true; after it, it is refused (expired). It cannot
 * pass as a message: its `typ` and signing input differ from the envelope profile's (`liaison-envelope`, b64 false),
 * whose verifier refuses any other `typ`.
 */
export const BUSY_TYP = 'liaison-busy';
/** NATS header of an `ERR_BUSY` refusal that carries the service's busy statement (compact JWS). */
export const BUSY_HEADER = 'Liaison-Busy';
/** A statement is re-signed at most once per this many ms (per reason): what a refusal costs in signatures. */
export const BUSY_STATEMENT_WINDOW_MS = 2_000;
/**
 * A statement stays valid this long after its window: a refusal sent at the end of the window still reaches a
 * loaded requester in time. Validity is window + grace.
 */
export const BUSY_STATEMENT_GRACE_MS = 2_000;
/** Clock skew between service and requester tolerated at either end of a statement's validity. */
export const BUSY_CLOCK_SKEW_MS = 1_000;
/** A reason is at most this long (the statement rides in a NATS header). */
export const MAX_BUSY_REASON_CHARS = 300;
/** Reasons kept signed at once; more distinct reasons in one window start the cache afresh. */
const MAX_REASONS = 16;

/** What a busy statement says. */
export interface BusyClaims {
  typ: typeof BUSY_TYP;
  /** The busy service's agency: the signer. */
  service: string;
  reason: string;
  /** Issued at, epoch ms. */
  iat: number;
  /** Valid until, epoch ms. */
  exp: number;
}

/** Sign a busy statement (compact JWS over `BASE64URL(protected) '.' BASE64URL(payload)`). */
export function signBusyStatement(claims: Omit<BusyClaims, 'typ'>, key: SigningKey): string {
  const protectedB64 = Buffer.from(JSON.stringify({ alg: JWS_ALG, kid: key.kid, typ: BUSY_TYP })).toString('base64url');
  const payload: BusyClaims = { typ: BUSY_TYP, service: claims.service, reason: claims.reason.slice(0, MAX_BUSY_REASON_CHARS), iat: claims.iat, exp: claims.exp };
  const input = `${protectedB64}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${edSign(null, Buffer.from(input, 'ascii'), key.privateKey).toString('base64url')}`;
}

/**
 * A service's busy statements: the current one for a reason, signed at most once per {@link BUSY_STATEMENT_WINDOW_MS}.
 * `signed` counts the signatures made (what refusing cost).
 */
export class BusyStatements {
  readonly #service: string;
  readonly #key: () => SigningKey;
  readonly #clock: Clock;
  readonly #current = new Map<string, { jws: string; until: number }>();
  #signed = 0;

  constructor(o: { service: string; key: () => SigningKey; clock: Clock }) {
    this.#service = o.service;
    this.#key = o.key;
    this.#clock = o.clock;
  }

  /** Signatures made so far. */
  get signed(): number {
    return this.#signed;
  }

  /** The statement to send now for `reason`: the one signed in this window, or a new one. */
  current(reason: string): string {
    const now = this.#clock.now();
    const hit = this.#current.get(reason);
    if (hit && now < hit.until) return hit.jws;
    if (this.#current.size >= MAX_REASONS) this.#current.clear();
    const jws = signBusyStatement({ service: this.#service, reason, iat: now, exp: now + BUSY_STATEMENT_WINDOW_MS + BUSY_STATEMENT_GRACE_MS }, this.#key());
    this.#signed++;
    this.#current.set(reason, { jws, until: now + BUSY_STATEMENT_WINDOW_MS });
    return jws;
  }
}

function notBelieved(code: 'ERR_SIGNATURE_INVALID' | 'ERR_KEY_UNKNOWN' | 'ERR_MESSAGE_EXPIRED' | 'ERR_CLOCK_SKEW' | 'ERR_REVOKED' | 'ERR_CREDENTIAL_EXPIRED' | 'ERR_KEY_SUPERSEDED', server: string, why: string): LiaisonError {
  return new LiaisonError(code, `${server}'s busy refusal is not believed: ${why}`, { remote: true, server });
}

/** The parts of a compact JWS as JSON, or undefined when it is not one. */
function partsOf(jws: string): { header: Record<string, unknown>; claims: Record<string, unknown>; input: string; signature: Buffer } | undefined {
  const parts = jws.split('.');
  if (parts.length !== 3 || jws.length > 2_048) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') return undefined;
    return { header: header as Record<string, unknown>, claims: claims as Record<string, unknown>, input: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return undefined;
  }
}

/**
 * Verify the busy statement of a refusal from `server`: a {@link BUSY_TYP} JWS signed with a key of `server` from the
 * federation directory (valid, not revoked or superseded when issued), naming `server`, and current while the request
 * was out: its validity overlaps `[sentAt, now]` (within {@link BUSY_CLOCK_SKEW_MS}), so a loaded requester that reads
 * the refusal late still believes it, and a statement that expired before the request was sent does not pass. Returns its claims; throws a typed LiaisonError — never ERR_BUSY — for a missing,
 * malformed, foreign-signed, forged or expired statement: such a refusal is not believed.
 */
export function verifyBusyStatement(jws: string | undefined, o: { server: string; keys: KeyResolver; sentAt: number; now: number }): BusyClaims {
  const { server } = o;
  if (!jws) throw notBelieved('ERR_SIGNATURE_INVALID', server, 'it carries no signed busy statement (an unsigned refusal nobody vouches for)');
  const p = partsOf(jws);
  if (!p) throw notBelieved('ERR_SIGNATURE_INVALID', server, 'its busy statement is not a compact JWS of JSON');
  if (!ACCEPTED_ALGS.has(p.header.alg) || p.header.typ !== BUSY_TYP || typeof p.header.kid !== 'string') throw notBelieved('ERR_SIGNATURE_INVALID', server, `its statement is not an Ed25519 ${BUSY_TYP} JWS`);
  const key = o.keys(server, p.header.kid);
  if (!key) throw notBelieved('ERR_KEY_UNKNOWN', server, `its statement is signed with key ${p.header.kid.slice(0, 43)}, not a key of ${server} in the directory`);
  if (p.signature.byteLength !== 64 || !edVerify(null, Buffer.from(p.input, 'ascii'), key.publicKey, p.signature)) throw notBelieved('ERR_SIGNATURE_INVALID', server, `its statement's signature does not verify with ${server}'s key`);
  const c = p.claims;
  if (c.typ !== BUSY_TYP || typeof c.reason !== 'string' || typeof c.iat !== 'number' || typeof c.exp !== 'number' || c.exp < c.iat) throw notBelieved('ERR_SIGNATURE_INVALID', server, 'its statement is not {typ, service, reason, iat, exp}');
  if (c.service !== server) throw notBelieved('ERR_SIGNATURE_INVALID', server, `its statement speaks for ${String(c.service)}`);
  if (key.revokedAt && c.iat >= key.revokedAt.getTime()) throw notBelieved('ERR_REVOKED', server, `${server} was revoked when it was signed`);
  if (key.supersededAt && c.iat >= key.supersededAt.getTime()) throw notBelieved('ERR_KEY_SUPERSEDED', server, 'it is signed with a rotated-out key');
  if (c.iat >= key.expiresAt.getTime()) throw notBelieved('ERR_CREDENTIAL_EXPIRED', server, `${server}'s credential had expired when it was signed`);
  if (o.sentAt > c.exp + BUSY_CLOCK_SKEW_MS) throw notBelieved('ERR_MESSAGE_EXPIRED', server, `its statement expired ${o.sentAt - c.exp} ms before the request was sent (a stale or replayed refusal)`);
  if (c.iat > o.now + BUSY_CLOCK_SKEW_MS) throw notBelieved('ERR_CLOCK_SKEW', server, `its statement was issued ${c.iat - o.now} ms in the future`);
  return c as unknown as BusyClaims;
}
