import { LiaisonError } from '../errors.ts';
import type { MessageHeader } from './header.ts';

/**
 * NATS headers of a message copy: CloudEvents binary-mode attributes (NATS protocol binding),
 * `Nats-Msg-Id` for JetStream de-duplication and a W3C `traceparent`. They are conveniences for
 * routers and tracing; receivers trust only the signed header and reject a copy whose headers
 * disagree with it.
 */
export function natsHeadersFor(h: MessageHeader): Record<string, string> {
  const hex = h.id.replaceAll('-', '');
  return {
    'ce-specversion': '1.0',
    'ce-id': h.id,
    'ce-source': ceSource(h.sender),
    'ce-type': h.type,
    'ce-time': h.createdAt.toISOString(),
    'ce-dataschema': `type.googleapis.com/${h.type}`,
    'content-type': 'application/protobuf',
    'Nats-Msg-Id': natsMsgId(h),
    traceparent: `00-${hex}-${hex.slice(16)}-01`,
  };
}

/** CloudEvents `source` of an agency. */
export function ceSource(agency: string): string {
  return `/liaison/agencies/${agency}`;
}

/**
 * JetStream de-duplication id of one copy: `<sender>:<id>:<tier>`. A family's stream holds all four
 * tiers, and every tier copy of a message shares the header id, so the tier is part of it. Ids come
 * from the sender and a stream holds every sender's messages, so the sender is part of it too:
 * another agency storing a message with the same id first must not make JetStream drop this one.
 */
export function natsMsgId(h: Pick<MessageHeader, 'sender' | 'id' | 'tier'>): string {
  return `${h.sender}:${h.id}:${h.tier}`;
}

/** Header getter over whatever the transport gives (nats.js MsgHdrs or a plain map). */
export type HeaderGetter = (name: string) => string | undefined;

/** Throw ERR_HEADER_MISMATCH when a present NATS header disagrees with the signed header. */
export function checkNatsHeaders(h: MessageHeader, get: HeaderGetter): void {
  const expect: [string, string][] = [
    ['ce-id', h.id],
    ['ce-type', h.type],
    ['ce-source', ceSource(h.sender)],
    ['Nats-Msg-Id', natsMsgId(h)],
  ];
  for (const [name, want] of expect) {
    const got = get(name);
    if (got !== undefined && got !== '' && got !== want) {
      throw new LiaisonError('ERR_HEADER_MISMATCH', `NATS header ${name} "${got}" disagrees with the signed header ("${want}")`, { header: name });
    }
  }
}
