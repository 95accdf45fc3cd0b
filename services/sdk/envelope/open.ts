import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { LiaisonError } from '../errors.ts';
import type { Policy } from '../policy/index.ts';
import { checkReceive } from '../policy/index.ts';
import { decodeBody, fieldsAboveTier, toJson, type Catalog, type MessageInfo } from '../schema/index.ts';
import { parseMessageSubject, serviceSubject } from '../subjects.ts';
import type { EnvelopeCodec } from './codec.ts';
import { originOf, type CrossContext } from './cross.ts';
import { checkCrossPairAgreed, checkObserverPolicy, type ObservedCross } from './cross-observe.ts';
import type { MessageHeader } from './header.ts';
import { parseProtectedHeader, verifyDetached, verifyDetachedWith, type SignatureCheck } from './jws.ts';
import { checkNatsHeaders, type HeaderGetter } from './nats-headers.ts';

/** What the federation directory knows about one signing key of one agency. */
export interface KeyRecord {
  publicKey: KeyObject;
  /** Credential expiry: messages signed at or after it are refused. */
  expiresAt: Date;
  /** Set when the key was rotated out: messages signed at or after it are refused. */
  supersededAt?: Date;
  /** Set when the agency is revoked: messages signed at or after it are refused. */
  revokedAt?: Date;
}

/**
 * How far in the receiver's future a message's `created_at` may lie (clocks of two agencies disagree a
 * little): later than `now + MAX_CLOCK_SKEW_MS` is refused with ERR_CLOCK_SKEW. A sender's clock set ahead
 * would otherwise sign messages that outlive its revocation or credential expiry.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** Resolve an agency's signing key by key id (the directory, verified against the root). */
export type KeyResolver = (agency: string, kid: string) => KeyRecord | undefined;

/** What opening a message needs. */
export interface OpenContext {
  catalog: Catalog;
  codec: EnvelopeCodec;
  policy: Policy;
  keys: KeyResolver;
  /** The receiving agency. */
  self: string;
  clock: Clock;
  /** Allowed clock skew for `created_at` in the future (default {@link MAX_CLOCK_SKEW_MS}). */
  maxSkewMs?: number;
  /** The cross-federation agreements in force (cross.ts): copies from a peer federation's agencies. */
  bridges?: CrossContext;
}

/** A verified message, as handed to a handler. */
export interface ReceivedMessage<B = Record<string, unknown>> {
  header: MessageHeader;
  /** Short type name, e.g. `DocumentReport`. */
  type: string;
  family: string;
  subject: string;
  /** The body as JSON, holding only the fields of this copy's tier. */
  body: B;
  /** Key id the copy was signed with. */
  kid: string;
  /** Where JetStream delivered it from (absent for request/reply). */
  delivery?: { stream: string; consumer: string; streamSeq: number; /** 1 on first delivery. */ deliveryCount?: number };
}

/** The transport-level facts of one received copy. */
export interface Incoming {
  subject: string;
  data: Uint8Array;
  header?: HeaderGetter;
}

function mismatch(what: string, subject: string, signed: string): never {
  throw new LiaisonError('ERR_SUBJECT_MISMATCH', `subject ${what} "${subject}" disagrees with the signed header ("${signed}")`, { field: what });
}

/**
 * The receiving pipeline: decode → subject and headers agree with the signed header → key from
 * the directory → signature → revocation, rotation and expiry → policy → body (no field above the
 * copy's tier). Throws a
 * LiaisonError with a stable code at the first failure; never anything else.
 */
export function openMessage(ctx: OpenContext, incoming: Incoming): ReceivedMessage {
  return openEnvelope(ctx, incoming, { route: 'message' });
}

/**
 * How a copy arrived, which decides what the transport must agree with: a message subject
 * (`liaison.v1.<tier>.<family>.<Type>.<sender>.<recipient>`), a service request subject
 * (`liaison.v1.svc.<family>.<Type>`, addressed to this agency), or a reply to a request this agency
 * made (from the expected service agency, bound to the request by its hash).
 */
export type Route =
  | { route: 'message' }
  | { route: 'request' }
  | { route: 'reply'; from: string; requestHash: string };

/** The receiving pipeline for any route (see {@link openMessage}), the signature checked on the calling thread. */
export function openEnvelope(ctx: OpenContext, incoming: Incoming, route: Route): ReceivedMessage {
  const steps = openSteps(ctx, incoming, route);
  let r = steps.next();
  while (!r.done) r = steps.next(verifyDetached(r.value.signed, r.value.protectedB64, r.value.signature, r.value.publicKey));
  return r.value;
}

/**
 * The receiving pipeline with the signature checked by `check` (a crypto pool's worker thread,
 * services/sdk/crypto/pool.ts): the checks before the signature run now, on the calling thread (a copy they
 * refuse throws at once); the promise settles after the signature and the checks after it, on the calling
 * thread again. Without `check`, exactly {@link openEnvelope}.
 */
export function openEnvelopeWith(ctx: OpenContext, incoming: Incoming, route: Route, check?: SignatureCheck): ReceivedMessage | Promise<ReceivedMessage> {
  if (!check) return openEnvelope(ctx, incoming, route);
  const steps = openSteps(ctx, incoming, route);
  const first = steps.next();
  if (first.done) return first.value;
  const s = first.value;
  return verifyDetachedWith(check, s.signed, s.protectedB64, s.signature, s.publicKey).then((ok) => {
    const r = steps.next(ok);
    if (!r.done) throw new LiaisonError('ERR_INTERNAL', 'the receiving pipeline asked for a second signature check');
    return r.value;
  });
}

/** {@link openMessage} with the signature checked by `check` (see {@link openEnvelopeWith}). */
export function openMessageWith(ctx: OpenContext, incoming: Incoming, check?: SignatureCheck): ReceivedMessage | Promise<ReceivedMessage> {
  return openEnvelopeWith(ctx, incoming, { route: 'message' }, check);
}

/** What the receiving pipeline has checked at its signature step. */
export interface SignatureStep {
  signed: Uint8Array;
  protectedB64: Buffer;
  signature: Uint8Array;
  publicKey: KeyObject;
}

/**
 * The receiving pipeline as steps: the cheap checks before the signature; then it yields the
 * {@link SignatureStep} and takes back whether the signature holds; then the checks after it. The one
 * pipeline of both {@link openEnvelope} (calling thread) and {@link openEnvelopeWith} (crypto pool).
 */
function* openSteps(ctx: OpenContext, incoming: Incoming, route: Route): Generator<SignatureStep, ReceivedMessage, boolean> {
  const env = ctx.codec.decodeEnvelope(incoming.data);
  const ph = parseProtectedHeader(env.protected);
  const { header, body } = ctx.codec.decodeSigned(env.signed);

  let info: MessageInfo;
  try {
    info = ctx.catalog.get(header.type);
  } catch (err) {
    throw new LiaisonError('ERR_TYPE_UNKNOWN', `unknown message type "${header.type}"`, { type: header.type }, { cause: err });
  }
  // The federation whose agency signed: ours, or — a bridged copy, sender token `<peer>:<agency>` — a peer's.
  let local = { sender: header.sender, recipient: header.recipient, origin: ctx.bridges?.federation };
  if (route.route === 'message') {
    const s = parseMessageSubject(incoming.subject);
    if (!s) throw new LiaisonError('ERR_SUBJECT_MISMATCH', `"${incoming.subject}" is not a Liaison message subject`);
    local = localised(ctx, header, s.sender);
    if (s.tier !== header.tier) mismatch('tier', s.tier, header.tier);
    if (s.family !== info.family) mismatch('family', s.family, info.family);
    if (s.type !== info.name) mismatch('type', s.type, info.name);
    if (s.sender !== local.sender) mismatch('sender', s.sender, local.sender);
    if (s.recipient !== local.recipient) mismatch('recipient', s.recipient, local.recipient);
  } else if (route.route === 'request') {
    const want = serviceSubject(info.family, info.name, header.sender);
    if (incoming.subject !== want) mismatch('service', incoming.subject, want);
    if (header.recipient !== ctx.self) mismatch('recipient', ctx.self, header.recipient);
  } else {
    if (header.sender !== route.from) mismatch('sender', route.from, header.sender);
    if (header.recipient !== ctx.self) mismatch('recipient', ctx.self, header.recipient);
    if (header.requestHash !== route.requestHash) {
      throw new LiaisonError('ERR_HEADER_MISMATCH', `reply answers request hash ${header.requestHash ?? '(none)'}, not ${route.requestHash}`, { field: 'request_hash' });
    }
  }
  if (incoming.header) checkNatsHeaders(header, incoming.header);

  const foreign = local.origin !== ctx.bridges?.federation;
  const key = (foreign ? ctx.bridges?.keys(local.origin!) : ctx.keys)?.(header.sender, ph.header.kid);
  if (!key && foreign) {
    // The peer's directory reaches this client through the bridge and the exchange, a few seconds behind the peer:
    // `pending` tells the receiver to let the copy come back a few times before refusing it (consume.ts).
    throw new LiaisonError('ERR_KEY_UNKNOWN', `key ${ph.header.kid} is not (yet) a signing key of ${header.sender} in the verified directory of federation ${local.origin}`, {
      sender: local.sender,
      kid: ph.header.kid,
      peer: local.origin,
      pending: true,
    });
  }
  if (!key) {
    throw new LiaisonError('ERR_KEY_UNKNOWN', `key ${ph.header.kid} is not a signing key of ${header.sender} in the federation directory`, {
      sender: header.sender,
      kid: ph.header.kid,
    });
  }
  if (!(yield { signed: env.signed, protectedB64: ph.b64, signature: env.signature, publicKey: key.publicKey })) {
    throw new LiaisonError('ERR_SIGNATURE_INVALID', `signature of ${header.sender} does not verify`, { sender: header.sender, kid: ph.header.kid });
  }
  const signedAt = header.createdAt.getTime();
  const now = ctx.clock.now();
  if (key.revokedAt && signedAt >= key.revokedAt.getTime()) {
    throw new LiaisonError('ERR_REVOKED', `${header.sender} was revoked at ${key.revokedAt.toISOString()}; message signed ${header.createdAt.toISOString()}`, {
      sender: header.sender,
    });
  }
  if (key.supersededAt && signedAt >= key.supersededAt.getTime()) {
    throw new LiaisonError('ERR_KEY_SUPERSEDED', `key ${ph.header.kid} of ${header.sender} was rotated out at ${key.supersededAt.toISOString()}`, {
      sender: header.sender,
      kid: ph.header.kid,
    });
  }
  if (signedAt >= key.expiresAt.getTime()) {
    throw new LiaisonError('ERR_CREDENTIAL_EXPIRED', `credential of ${header.sender} expired ${key.expiresAt.toISOString()}, before the message was signed`, {
      sender: header.sender,
    });
  }
  const skewMs = ctx.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
  if (signedAt > now + skewMs) {
    throw new LiaisonError('ERR_CLOCK_SKEW', `created_at ${header.createdAt.toISOString()} lies ${signedAt - now} ms in the future (more than the ${skewMs} ms allowed)`, {
      field: 'created_at',
      sender: header.sender,
    });
  }
  if (header.expiresAt && header.expiresAt.getTime() <= now) {
    throw new LiaisonError('ERR_MESSAGE_EXPIRED', `message expired at ${header.expiresAt.toISOString()}`, { id: header.id });
  }
  if (foreign) checkBridged(ctx, local, info.name, header);
  else {
    // A local sender's copy addressed across, seen here by an observer: only one a flow names (cross-observe.ts).
    if (route.route === 'message' && local.recipient.includes(':')) checkCrossPairAgreed(ctx.bridges, observed(ctx, local, originOf(local.recipient, ''), info.name, header));
    checkReceive(ctx.policy, {
      receiver: ctx.self,
      sender: header.sender,
      type: info.name,
      recipient: header.recipient,
      tier: header.tier,
      handling: header.handling,
      tlp: header.tlp,
    });
  }
  const decoded = decodeBody(info, body);
  const over = fieldsAboveTier(info, decoded, header.tier);
  if (over.length) {
    throw new LiaisonError('ERR_TIER_VIOLATION', `${info.name} copy at tier ${header.tier} carries field(s) above it: ${over.join(', ')}`, {
      sender: header.sender,
      fields: over,
    });
  }
  return {
    // A bridged copy is handed over in this federation's namespace: its sender is `<peer>:<agency>` (a message is (sender, id)).
    header: foreign ? { ...header, sender: local.sender, recipient: local.recipient } : header,
    type: info.name,
    family: info.family,
    subject: incoming.subject,
    body: toJson(info, decoded) as Record<string, unknown>,
    kid: ph.header.kid,
  };
}

/**
 * The signed sender and recipient in the receiver's namespace (bridge design §2): a copy whose subject names a
 * sender of a peer federation (`atl:xb-police`) was signed there, so its unqualified ids are the peer's and
 * `<self>:x` is ours. Without agreements (or for a local sender token) the signed ids are compared as they are.
 */
function localised(ctx: OpenContext, header: MessageHeader, senderToken: string): { sender: string; recipient: string; origin: string | undefined } {
  const b = ctx.bridges;
  if (!b) return { sender: header.sender, recipient: header.recipient, origin: undefined };
  const origin = originOf(senderToken, b.federation);
  if (origin === b.federation) return { sender: header.sender, recipient: header.recipient, origin };
  if (!b.sides.has(origin)) {
    throw new LiaisonError('ERR_SUBJECT_MISMATCH', `subject sender "${senderToken}" names federation ${origin}, with which no agreement is in force`, { field: 'sender' });
  }
  return { sender: b.localise(header.sender, b.federation, origin), recipient: b.localise(header.recipient, b.federation, origin), origin };
}

/**
 * A bridged copy: addressed to this agency and admitted by a flow of the agreement with its federation; or seen by an
 * observer of the type, whose own policy governs, of a pair and type a flow names (cross-observe.ts).
 */
function checkBridged(ctx: OpenContext, local: { sender: string; recipient: string; origin: string | undefined }, type: string, header: MessageHeader): void {
  if (local.recipient !== ctx.self) {
    const o = observed(ctx, local, local.origin!, type, header);
    checkCrossPairAgreed(ctx.bridges, o);
    checkObserverPolicy(ctx.policy, o);
    return;
  }
  ctx.bridges!.sides.get(local.origin!)!.checkReceive({ sender: local.sender, recipient: local.recipient, type, tier: header.tier, handling: header.handling, tlp: header.tlp });
}

function observed(ctx: OpenContext, local: { sender: string; recipient: string }, peer: string, type: string, header: MessageHeader): ObservedCross {
  return { self: ctx.self, peer, sender: local.sender, recipient: local.recipient, type, tier: header.tier, handling: header.handling, tlp: header.tlp };
}
