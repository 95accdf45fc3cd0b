import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { LiaisonError } from '../errors.ts';
import type { Policy } from '../policy/index.ts';
import { checkReceive } from '../policy/index.ts';
import { decodeBody, fieldsAboveTier, toJson, type Catalog, type MessageInfo } from '../schema/index.ts';
import { parseMessageSubject, serviceSubject } from '../subjects.ts';
import type { EnvelopeCodec } from './codec.ts';
import type { MessageHeader } from './header.ts';
import { parseProtectedHeader, verifyDetached } from './jws.ts';
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

/** The receiving pipeline for any route (see {@link openMessage}). */
export function openEnvelope(ctx: OpenContext, incoming: Incoming, route: Route): ReceivedMessage {
  const env = ctx.codec.decodeEnvelope(incoming.data);
  const ph = parseProtectedHeader(env.protected);
  const { header, body } = ctx.codec.decodeSigned(env.signed);

  let info: MessageInfo;
  try {
    info = ctx.catalog.get(header.type);
  } catch (err) {
    throw new LiaisonError('ERR_TYPE_UNKNOWN', `unknown message type "${header.type}"`, { type: header.type }, { cause: err });
  }
  if (route.route === 'message') {
    const s = parseMessageSubject(incoming.subject);
    if (!s) throw new LiaisonError('ERR_SUBJECT_MISMATCH', `"${incoming.subject}" is not a Liaison message subject`);
    if (s.tier !== header.tier) mismatch('tier', s.tier, header.tier);
    if (s.family !== info.family) mismatch('family', s.family, info.family);
    if (s.type !== info.name) mismatch('type', s.type, info.name);
    if (s.sender !== header.sender) mismatch('sender', s.sender, header.sender);
    if (s.recipient !== header.recipient) mismatch('recipient', s.recipient, header.recipient);
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

  const key = ctx.keys(header.sender, ph.header.kid);
  if (!key) {
    throw new LiaisonError('ERR_KEY_UNKNOWN', `key ${ph.header.kid} is not a signing key of ${header.sender} in the federation directory`, {
      sender: header.sender,
      kid: ph.header.kid,
    });
  }
  if (!verifyDetached(env.signed, ph.b64, env.signature, key.publicKey)) {
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
  checkReceive(ctx.policy, {
    receiver: ctx.self,
    sender: header.sender,
    type: info.name,
    recipient: header.recipient,
    tier: header.tier,
    handling: header.handling,
    tlp: header.tlp,
  });
  const decoded = decodeBody(info, body);
  const over = fieldsAboveTier(info, decoded, header.tier);
  if (over.length) {
    throw new LiaisonError('ERR_TIER_VIOLATION', `${info.name} copy at tier ${header.tier} carries field(s) above it: ${over.join(', ')}`, {
      sender: header.sender,
      fields: over,
    });
  }
  return {
    header,
    type: info.name,
    family: info.family,
    subject: incoming.subject,
    body: toJson(info, decoded) as Record<string, unknown>,
    kid: ph.header.kid,
  };
}
