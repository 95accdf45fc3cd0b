import { LiaisonError } from '../errors.ts';
import type { MessageHeader } from './header.ts';
import type { SigningKey } from './jws.ts';
import { MSG_ID_TAG, msgIdTag, msgIdTagKey } from './msg-id-tag.ts';

/**
 * NATS headers of a message copy: CloudEvents binary-mode attributes (NATS protocol binding),
 * `Nats-Msg-Id` for JetStream de-duplication and a W3C `traceparent`. They are conveniences for
 * routers and tracing; receivers trust only the signed header and reject a copy whose headers
 * disagree with it.
 */
export function natsHeadersFor(h: MessageHeader, key?: SigningKey): Record<string, string> {
  const hex = h.id.replaceAll('-', '');
  return {
    'ce-specversion': '1.0',
    'ce-id': h.id,
    'ce-source': ceSource(h.sender),
    'ce-type': h.type,
    'ce-time': h.createdAt.toISOString(),
    'ce-dataschema': `type.googleapis.com/${h.type}`,
    'content-type': 'application/protobuf',
    'Nats-Msg-Id': key ? taggedNatsMsgId(h, key) : natsMsgId(h),
    traceparent: `00-${hex}-${hex.slice(16)}-01`,
  };
}

/** CloudEvents `source` of an agency. */
export function ceSource(agency: string): string {
  return `/liaison/agencies/${agency}`;
}

/**
 * The untagged de-duplication id of one copy: `<sender>:<id>:<tier>` (what receivers compare with the
 * signed header; senders before the tag sent exactly this). A family's stream holds all four
 * tiers, and every tier copy of a message shares the header id, so the tier is part of it. Ids come
 * from the sender and a stream holds every sender's messages, so the sender is part of it too:
 * another agency storing a message with the same id first must not make JetStream drop this one.
 */
export function natsMsgId(h: Pick<MessageHeader, 'sender' | 'id' | 'tier'>): string {
  return `${h.sender}:${h.id}:${h.tier}`;
}

/**
 * The `Nats-Msg-Id` a sender publishes: `<sender>:<id>:<tier>:<tag>`, the tag an HMAC only the holder
 * of the sender's private signing key can compute ({@link msgIdTag}). The broker does not check this
 * header, so without the tag another agency that learnt an id in advance could store a message first
 * under the victim's id and make JetStream drop the genuine publish as a duplicate.
 */
export function taggedNatsMsgId(h: Pick<MessageHeader, 'sender' | 'id' | 'tier'>, key: SigningKey): string {
  return `${natsMsgId(h)}:${msgIdTag(msgIdTagKey(key.privateKey), h.sender, h.id, h.tier)}`;
}

/** True when `got` is the Nats-Msg-Id of `h`: the three-field form, or it followed by one tag (which only its sender can check). */
export function isNatsMsgIdOf(h: Pick<MessageHeader, 'sender' | 'id' | 'tier'>, got: string): boolean {
  const base = natsMsgId(h);
  if (got === base) return true;
  return got.length === base.length + 23 && got.startsWith(`${base}:`) && MSG_ID_TAG.test(got.slice(base.length + 1));
}

/** Header getter over whatever the transport gives (nats.js MsgHdrs or a plain map). */
export type HeaderGetter = (name: string) => string | undefined;

/** Throw ERR_HEADER_MISMATCH when a present NATS header disagrees with the signed header. */
export function checkNatsHeaders(h: MessageHeader, get: HeaderGetter): void {
  const expect: [string, string, (got: string) => boolean][] = [
    ['ce-id', h.id, (got) => got === h.id],
    ['ce-type', h.type, (got) => got === h.type],
    ['ce-source', ceSource(h.sender), (got) => got === ceSource(h.sender)],
    ['Nats-Msg-Id', `${natsMsgId(h)}[:<tag>]`, (got) => isNatsMsgIdOf(h, got)],
  ];
  for (const [name, want, agrees] of expect) {
    const got = get(name);
    if (got !== undefined && got !== '' && !agrees(got)) {
      throw new LiaisonError('ERR_HEADER_MISMATCH', `NATS header ${name} "${got}" disagrees with the signed header ("${want}")`, { header: name });
    }
  }
}
