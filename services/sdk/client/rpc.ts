import { createHash } from 'node:crypto';
import { errors, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { CryptoPool } from '../crypto/pool.ts';
import type { SignatureCheck, Signer } from '../envelope/jws.ts';
import { openEnvelope, openEnvelopeWith, type OpenContext, type ReceivedMessage } from '../envelope/open.ts';
import type { SealedMessage, SendOptions } from '../envelope/seal.ts';
import { asLiaisonError, ERROR_CODES, LiaisonError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { agencyServes, canSend, type Policy } from '../policy/index.ts';
import type { Catalog } from '../schema/index.ts';
import { parseServiceSubject, responseRoute, serviceSubject } from '../subjects.ts';
import { BoundedRunner } from './bounded-runner.ts';
import { BUSY_HEADER, verifyBusyStatement, type BusyStatements } from './busy-statement.ts';
import { arrivingRequest, type RequestAdmission } from './serve-admission.ts';

/** Header of a refusal: `CODE: message` (the name the NATS services framework uses). */
export const SERVICE_ERROR_HEADER = 'Nats-Service-Error';
/** Header of a refusal's status number (400, 401, 403, 500). */
export const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

/** base64url SHA-256 of a request envelope: what the signed reply's `request_hash` must carry. */
export function requestHash(envelope: Uint8Array): string {
  return createHash('sha256').update(envelope).digest('base64url');
}

/** What a service handler answers: a message type and body, sealed and signed by the SDK. */
export interface Reply {
  type: string;
  body: unknown;
  opts?: Omit<SendOptions, 'to' | 'requestHash'>;
}

/** A request handler; throw a LiaisonError to refuse (the requester gets its code). */
export type RequestHandler = (req: ReceivedMessage) => Reply | Promise<Reply>;

/** What the request/reply helpers need from a client. */
export interface RpcHost {
  id: string;
  nc: NatsConnection;
  catalog: Catalog;
  policy(): Policy;
  openContext(): OpenContext;
  seal(type: string, body: unknown, opts: SendOptions): SealedMessage;
  /** {@link RpcHost.seal} with the signature made by `sign` (a crypto pool's worker thread). */
  sealWith?(sign: Signer, type: string, body: unknown, opts: SendOptions): Promise<SealedMessage>;
  logger: Logger;
  /** The client's crypto worker threads, when it has them: a service verifies its requests and signs its answers there (issue 16). */
  cryptoPool?: CryptoPool;
  /**
   * The agency's signed busy statements (busy-statement.ts): every ERR_BUSY refusal of its services carries the
   * current one. Without it a refusal goes unsigned, and requesters do not believe it.
   */
  busy?: BusyStatements;
}

function toHeaders(h: Record<string, string>): MsgHdrs {
  const m = natsHeaders();
  for (const [k, v] of Object.entries(h)) m.set(k, v);
  return m;
}

/** The agency that serves a request type under the policy (exactly one, unless `to` names it). */
export function serverFor(policy: Policy, type: string, to?: string): string {
  if (to) return to;
  const servers = Object.keys(policy.agencies).filter((a) => agencyServes(policy, a).includes(type));
  if (servers.length === 0) throw new LiaisonError('ERR_POLICY_NO_RECIPIENT', `no agency serves ${type} under policy ${policy.name}`, { type });
  if (servers.length > 1) throw new LiaisonError('ERR_USAGE', `several agencies serve ${type} (${servers.join(', ')}); say which with { to }`, { type });
  return servers[0]!;
}

function remoteError(h: MsgHdrs): LiaisonError {
  const text = h.get(SERVICE_ERROR_HEADER) || 'the service refused the request';
  const code = text.split(':')[0]!;
  const known = code in ERROR_CODES ? (code as ErrorCode) : 'ERR_EXCHANGE';
  return new LiaisonError(known, `${text.slice(code.length + 1).trim() || text} (status ${h.get(SERVICE_ERROR_CODE_HEADER) || '?'})`, { remote: true });
}

/**
 * A refusal as the requester's typed error. An ERR_BUSY refusal is believed only with a busy statement of `server`
 * that verifies and is current (busy-statement.ts): then ERR_BUSY with the statement's reason; otherwise the typed
 * reason it is not believed (never ERR_BUSY): nothing unsigned makes a requester back off.
 */
function refusalError(host: RpcHost, server: string, h: MsgHdrs, sentAt: number): LiaisonError {
  const err = remoteError(h);
  if (err.code !== 'ERR_BUSY') return err;
  const ctx = host.openContext();
  const claims = verifyBusyStatement(h.get(BUSY_HEADER) || undefined, { server, keys: ctx.keys, sentAt, now: ctx.clock.now() });
  return new LiaisonError('ERR_BUSY', `${server} refused to answer now (busy, signed statement of ${new Date(claims.iat).toISOString()}): ${claims.reason}`, { remote: true, server });
}

/**
 * Send a signed request to the agency serving `type` and return its verified, signed reply. The
 * reply must come from that agency, be addressed to us, and carry the hash of exactly this request.
 */
export async function request(host: RpcHost, type: string, body: unknown, opts: SendOptions & { timeoutMs?: number } = {}): Promise<ReceivedMessage> {
  const info = host.catalog.get(type);
  const server = serverFor(host.policy(), info.name, opts.to);
  const copy = host.seal(info.name, body, { ...opts, to: server }).copies[0]!;
  const subject = serviceSubject(info.family, info.name, host.id);
  let reply;
  const sentAt = host.openContext().clock.now();
  try {
    reply = await host.nc.request(subject, copy.data, { headers: toHeaders(copy.headers), timeout: opts.timeoutMs ?? 5_000 });
  } catch (err) {
    if (err instanceof errors.NoRespondersError) throw new LiaisonError('ERR_CONNECT', `no ${server} service is answering ${subject}: is it running (e.g. \`liaison registry up --as\` its directory)? \`liaison exchange status --dir TRUST_DIR\` lists the connected processes`, { subject }, { cause: err });
    if (err instanceof errors.TimeoutError) {
      const s = ((opts.timeoutMs ?? 5_000) / 1000).toString();
      throw new LiaisonError('ERR_TIMEOUT', `${server} did not answer ${type} within ${s} s: check that its service is running and keeping up (\`liaison exchange status --dir TRUST_DIR\`, its logs), or allow more time`, { subject }, { cause: err });
    }
    if (err instanceof errors.PermissionViolationError) {
      // The SDK's own check let it through: the exchange's credentials disagree with the policy this process enforces.
      const d = canSend(host.policy(), host.id, info.name);
      const why = d.allowed
        ? `${d.reason} in the policy this process enforces (${host.policy().hash.slice(0, 12)}…), but the exchange's credentials for ${host.id} do not allow it: they are behind that policy, or ${host.id} was revoked (run liaison doctor --as AGENCY_DIR)`
        : `no rule allows it: ${d.reason}`;
      throw new LiaisonError('ERR_PERMISSION_DENIED', `the exchange refused ${subject} (Permissions Violation): ${why}`, { subject, ...(d.rule ? { rule: d.rule } : {}) }, { cause: err });
    }
    throw asLiaisonError(err, 'ERR_EXCHANGE', `request ${subject}`);
  }
  if (reply.headers?.get(SERVICE_ERROR_HEADER)) throw refusalError(host, server, reply.headers, sentAt);
  const opened = openEnvelope(
    host.openContext(),
    { subject: reply.subject, data: reply.data, header: (n) => reply.headers?.get(n) || undefined },
    { route: 'reply', from: server, requestHash: requestHash(copy.data) },
  );
  if (opened.body.outcome === BUSY_OUTCOME) throw busyError(server, opened);
  return opened;
}

/** The outcome of a signed check result by which a busy service refuses to check now (issue 16). */
export const BUSY_OUTCOME = 'CHECK_OUTCOME_BUSY';

/** A verified busy result (signed by the service, bound to the request) as the requester's typed error. */
function busyError(server: string, reply: ReceivedMessage): LiaisonError {
  const b = reply.body;
  const why = String(b.instructions ?? b.requestedAction ?? '') || 'no reason given';
  return new LiaisonError('ERR_BUSY', `${server} refused to answer now (busy, signed ${reply.type} ${reply.header.id}): ${why}`, { remote: true, server, replyId: reply.header.id });
}

/** A running request/reply service of one agency. */
export interface Serving {
  /** Requests dropped unanswered because their reply subject lay outside the requester's own inbox. */
  readonly dropped: number;
  /** Requests refused ERR_BUSY at once because `concurrency` were in process and `maxWaiting` waited. */
  readonly busy: number;
  /** The most requests this service had in process (verifying, handling, signing) at once. */
  readonly concurrentHighWater: number;
  stop(): Promise<void>;
}

/** Default of {@link ServeOptions.concurrency}: requests one service verifies, handles and signs at once. */
export const DEFAULT_SERVE_CONCURRENCY = 64;
/** Default of {@link ServeOptions.maxWaiting}: requests one service holds beyond its concurrency. */
export const DEFAULT_SERVE_MAX_WAITING = 1_024;

/** How a service takes on its requests (issue 16). */
export interface ServeOptions {
  /** The service's name in logs. */
  name?: string;
  /**
   * Admission on arrival, BEFORE verification ({@link RequestAdmission}): a request it refuses costs no
   * verification and no signature: its ERR_BUSY refusal carries the service's current busy statement. Default: every request is taken on, up to the bounds below.
   */
  admission?: RequestAdmission;
  /**
   * At most this many requests verified, handled and signed at once (default {@link DEFAULT_SERVE_CONCURRENCY}); the
   * others wait in arrival order. Requests are answered concurrently: a slow handler does not hold up the next.
   */
  concurrency?: number;
  /**
   * At most this many requests waiting beyond `concurrency` (default {@link DEFAULT_SERVE_MAX_WAITING}); more are
   * refused at once with ERR_BUSY (status 503, carrying the service's signed busy statement, busy-statement.ts) instead of piling up.
   */
  maxWaiting?: number;
  /**
   * Verify requests and sign answers on this pool's worker threads (default: the client's pool, if it has one; a pool
   * of size 0 or none works on the event loop). The checks before and after the signature, and sealing but for the
   * signature, stay on the event loop; so does the signing of busy statements, at most one per window (see `admission`).
   */
  cryptoPool?: CryptoPool;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_POLICY_SEND_DENIED: 403,
  ERR_POLICY_RECEIVE_DENIED: 403,
  ERR_POLICY_HANDLING_DENIED: 403,
  ERR_REVOKED: 403,
  ERR_SIGNATURE_INVALID: 401,
  ERR_KEY_UNKNOWN: 401,
  ERR_BUSY: 503,
  ERR_INTERNAL: 500,
};

/**
 * Serve request types this agency's roles `serve` (a queue group, so replicas share the load). Each request
 * goes through the receive pipeline; the handler's answer is sealed to the requester with the request's hash
 * and signed. Refusals answer with the error code. Requests reach a serving agency only through the exchange's
 * import of its request subjects, so every reply is a service-import response route (`_R_.…`) that the server
 * maps back into the requester's own account; anything else is dropped unanswered and counted.
 *
 * Requests are counted from the moment they arrive: `opts.admission` is asked first, before any verification, and
 * a request it refuses gets ERR_BUSY with the service's signed busy statement at once; the others are answered
 * concurrently, at most `opts.concurrency` at once, with at most `opts.maxWaiting` waiting (beyond: ERR_BUSY at once).
 */
export async function serve(host: RpcHost, handlers: Record<string, RequestHandler>, opts: ServeOptions = {}): Promise<Serving> {
  const served = agencyServes(host.policy(), host.id);
  for (const type of Object.keys(handlers)) {
    if (!served.includes(type)) throw new LiaisonError('ERR_POLICY_RECEIVE_DENIED', `${host.id} does not serve ${type} under the policy (no role lists it under serve)`, { type });
  }
  const crypto = cryptoOf(host, opts.cryptoPool ?? host.cryptoPool);
  const runner = new BoundedRunner({ concurrency: opts.concurrency ?? DEFAULT_SERVE_CONCURRENCY, maxWaiting: opts.maxWaiting ?? DEFAULT_SERVE_MAX_WAITING });
  let dropped = 0;
  let busy = 0;
  const take = (handler: RequestHandler, msg: Msg, requester: string) => {
    const release = admitOnArrival(host, opts.admission, msg);
    if (!release) return; // refused before verification, ERR_BUSY with the signed busy statement sent
    if (runner.offer(() => answer(host, handler, msg, requester, crypto).finally(release))) return;
    release();
    busy++;
    respondBusy(host, msg, `${host.id} has ${runner.concurrency} requests in process and ${runner.maxWaiting} waiting: retry shortly`);
  };
  const subs: Subscription[] = [];
  for (const [type, handler] of Object.entries(handlers)) {
    const info = host.catalog.get(type);
    subs.push(
      host.nc.subscribe(serviceSubject(info.family, info.name, '*'), {
        queue: `liaison-${host.id}`,
        callback: (err, msg) => {
          if (err) return host.logger.warn({ err }, 'service subscription error');
          const requester = parseServiceSubject(msg.subject)?.sender ?? '';
          if (!responseRoute(msg.reply)) {
            dropped++;
            host.logger.warn({ requester, service: opts.name ?? info.name, reply: msg.reply?.slice(0, 80) }, 'request dropped: its reply subject is not a service-import response route');
            return;
          }
          take(handler, msg, requester);
        },
      }),
    );
  }
  await host.nc.flush();
  return {
    get dropped() {
      return dropped;
    },
    get busy() {
      return busy;
    },
    get concurrentHighWater() {
      return runner.highWater;
    },
    async stop() {
      for (const s of subs) s.unsubscribe();
      await host.nc.flush().catch(() => undefined);
    },
  };
}

const NOTHING_TO_RELEASE = () => undefined;

/** How a service checks request signatures and seals its answers. */
interface ServeCrypto {
  /** Signature checks on a pool's threads; undefined: on the event loop. */
  check: SignatureCheck | undefined;
  seal(type: string, body: unknown, opts: SendOptions): SealedMessage | Promise<SealedMessage>;
}

/** Verification and signing on `pool`'s worker threads, or on the event loop without threads. */
function cryptoOf(host: RpcHost, pool: CryptoPool | undefined): ServeCrypto {
  const inline: ServeCrypto['seal'] = (type, body, opts) => host.seal(type, body, opts);
  if (!pool || pool.size === 0) return { check: undefined, seal: inline };
  const sign: Signer = (input, key) => pool.sign(input, key);
  return {
    check: (input, signature, key) => pool.verify(input, signature, key),
    seal: host.sealWith ? (type, body, opts) => host.sealWith!(sign, type, body, opts) : inline,
  };
}

/**
 * Ask the service's admission about a request as it arrives, before verification. Returns what to call once the
 * request is answered, or undefined when admission refused it (its busy refusal already on its way). A request
 * whose claimed header disagrees with its subject is not admission's to count: the receive pipeline refuses it
 * before verifying anything.
 */
function admitOnArrival(host: RpcHost, admission: RequestAdmission | undefined, msg: Msg): (() => void) | undefined {
  if (!admission) return NOTHING_TO_RELEASE;
  const arriving = arrivingRequest(host.openContext(), msg.subject, msg.data);
  if (!arriving) return NOTHING_TO_RELEASE;
  const refusal = admission.admit(arriving);
  if (!refusal) return () => admission.release();
  respondBusy(host, msg, refusal.busy);
  return undefined;
}

/**
 * Refuse a request ERR_BUSY (status 503) with the service's current signed busy statement for `reason`: signed at
 * most once per window (busy-statement.ts), so refusing costs no signature per request — a service that is behind
 * refuses at the rate requests arrive and catches up — while the requester believes only a refusal the service
 * signed. Sent only along the request's response route (checked by the caller): it reaches only the requester's
 * own account. Not logged per request: a flood of refusals would be a flood of log lines; the counters tell.
 */
function respondBusy(host: RpcHost, msg: Msg, reason: string): void {
  const h = natsHeaders();
  h.set(SERVICE_ERROR_HEADER, `ERR_BUSY: ${reason}`.slice(0, 1000));
  h.set(SERVICE_ERROR_CODE_HEADER, String(STATUS.ERR_BUSY));
  if (host.busy) h.set(BUSY_HEADER, host.busy.current(reason));
  msg.respond(new Uint8Array(0), { headers: h });
}

function respondError(msg: Msg, status: number, text: string): void {
  const h = natsHeaders();
  h.set(SERVICE_ERROR_HEADER, text);
  h.set(SERVICE_ERROR_CODE_HEADER, String(status));
  msg.respond(new Uint8Array(0), { headers: h });
}

async function answer(host: RpcHost, handler: RequestHandler, msg: Msg, requester: string, crypto: ServeCrypto): Promise<void> {
  let req: ReceivedMessage | undefined;
  try {
    req = await openEnvelopeWith(host.openContext(), { subject: msg.subject, data: msg.data, header: (n) => msg.headers?.get(n) || undefined }, { route: 'request' }, crypto.check);
    if (req.header.sender !== requester) {
      throw new LiaisonError('ERR_HEADER_MISMATCH', `request signed by ${req.header.sender} arrived on ${requester}'s request subject`, { field: 'sender' });
    }
    const out = await handler(req);
    const sealed = await crypto.seal(out.type, out.body, {
      caseRef: req.header.caseRef,
      correlationId: req.header.correlationId || req.header.id,
      ...out.opts,
      causationId: req.header.id,
      to: req.header.sender,
      requestHash: requestHash(msg.data),
    });
    const copy = sealed.copies[0]!;
    msg.respond(copy.data, { headers: toHeaders(copy.headers) });
  } catch (err) {
    const e = asLiaisonError(err, 'ERR_INTERNAL');
    host.logger.warn({ code: e.code, requester, type: req?.type }, `request refused: ${e.message}`);
    respondError(msg, STATUS[e.code] ?? 400, `${e.code}: ${e.message}`.slice(0, 1000));
  }
}
