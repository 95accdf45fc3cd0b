import type { Type } from 'protobufjs';
import { LiaisonError } from '../errors.ts';
import { isUuidv7 } from '../ids.ts';
import { HANDLING_CODES, TLP_LABELS, isTier } from '../tier.ts';
import { timestampFromDate } from '../schema/timestamp.ts';
import { headerFromObject, headerToObject, INFORMATION_RELIABILITIES, SOURCE_RELIABILITIES, type MessageHeader } from './header.ts';

/** The wire parts of an Envelope. */
export interface EnvelopeParts {
  signed: Uint8Array;
  protected: Uint8Array;
  signature: Uint8Array;
}

/** Encode and decode `Envelope` and `Signed` with the protobufjs types of envelope.proto. */
export interface EnvelopeCodec {
  /** Encode `Signed`; throws ERR_HEADER_INVALID for a header a receiver would refuse. */
  encodeSigned(header: MessageHeader, body: Uint8Array): Uint8Array;
  /** Decode `Signed`; throws ERR_DECODE for bad bytes and ERR_HEADER_INVALID for a bad header. */
  decodeSigned(bytes: Uint8Array): { header: MessageHeader; body: Uint8Array };
  encodeEnvelope(parts: EnvelopeParts): Uint8Array;
  /** Decode `Envelope`; throws ERR_DECODE unless all three parts are present. */
  decodeEnvelope(bytes: Uint8Array): EnvelopeParts;
}

/** The protobufjs types the codec needs (from the schema catalogue). */
export interface EnvelopeTypes {
  Envelope: Type;
  Signed: Type;
  Header: Type;
}

const TO_OBJECT = { enums: String, longs: Number, defaults: true } as const;

/**
 * Longest accepted value of each free-text header field (ids, agency ids and hashes are far shorter):
 * a receiver never carries, logs or keys anything by an unbounded string from an unverified header.
 */
export const HEADER_FIELD_MAX: Readonly<Record<string, number>> = {
  type: 128,
  sender: 64,
  recipient: 64,
  caseRef: 256,
  correlationId: 256,
  causationId: 256,
  policyHash: 128,
  requestHash: 128,
};

function validInstant(d: Date | undefined): boolean {
  return d instanceof Date && timestampFromDate(d) !== undefined;
}

/**
 * Check a header, sent or received (the one validation both ways); throws ERR_HEADER_INVALID naming the
 * first bad field: missing or malformed values, unknown enum values, instants outside years 1–9999 and
 * strings longer than {@link HEADER_FIELD_MAX}.
 */
export function validateHeader(h: Partial<MessageHeader>): MessageHeader {
  const bad = (field: string, why: string): never => {
    throw new LiaisonError('ERR_HEADER_INVALID', `signed header ${field}: ${why}`, { field });
  };
  for (const [field, max] of Object.entries(HEADER_FIELD_MAX)) {
    const v = (h as Record<string, unknown>)[field];
    if (v !== undefined && (typeof v !== 'string' || v.length > max)) bad(field, `not a string of at most ${max} characters`);
  }
  if (!h.id || !isUuidv7(h.id)) bad('id', 'missing or not a UUIDv7');
  if (!h.type || !h.type.startsWith('liaison.v1.')) bad('type', 'missing or not a liaison.v1 type');
  if (!h.sender) bad('sender', 'missing');
  if (!h.recipient) bad('recipient', 'missing');
  if (!validInstant(h.createdAt)) bad('created_at', 'missing or not an instant from year 1 to 9999');
  if (h.expiresAt !== undefined && !validInstant(h.expiresAt)) bad('expires_at', 'not an instant from year 1 to 9999');
  if (!h.handling || !(HANDLING_CODES as readonly string[]).includes(h.handling)) bad('handling', 'missing or unknown');
  if (!h.tlp || !(TLP_LABELS as readonly string[]).includes(h.tlp)) bad('tlp', 'missing or unknown');
  if (!isTier(h.tier)) bad('tier', 'missing or unknown');
  if (h.sourceReliability !== undefined && !SOURCE_RELIABILITIES.includes(h.sourceReliability)) bad('source_reliability', 'unknown');
  if (h.informationReliability !== undefined && !INFORMATION_RELIABILITIES.includes(h.informationReliability)) bad('information_reliability', 'unknown');
  return h as MessageHeader;
}

/** Build the envelope codec over the given protobufjs types. */
export function createEnvelopeCodec(types: EnvelopeTypes): EnvelopeCodec {
  const { Envelope, Signed, Header } = types;
  return {
    encodeSigned(header, body) {
      const msg = Signed.create({ header: Header.fromObject(headerToObject(validateHeader(header))), body });
      return Signed.encode(msg).finish();
    },
    decodeSigned(bytes) {
      let msg: { header?: unknown; body?: Uint8Array };
      try {
        msg = Signed.decode(bytes) as unknown as { header?: unknown; body?: Uint8Array };
      } catch (err) {
        throw new LiaisonError('ERR_DECODE', `signed part is not a liaison.v1.Signed: ${(err as Error).message}`, {}, { cause: err });
      }
      if (!msg.header) throw new LiaisonError('ERR_HEADER_INVALID', 'signed part has no header', { field: 'header' });
      const obj = Header.toObject(msg.header as never, TO_OBJECT) as Record<string, unknown>;
      return { header: validateHeader(headerFromObject(obj)), body: msg.body ?? new Uint8Array() };
    },
    encodeEnvelope(parts) {
      return Envelope.encode(Envelope.create({ signed: parts.signed, protected: parts.protected, signature: parts.signature })).finish();
    },
    decodeEnvelope(bytes) {
      let msg: Partial<EnvelopeParts>;
      try {
        msg = Envelope.decode(bytes) as unknown as Partial<EnvelopeParts>;
      } catch (err) {
        throw new LiaisonError('ERR_DECODE', `not a liaison.v1.Envelope: ${(err as Error).message}`, {}, { cause: err });
      }
      if (!msg.signed?.length || !msg.protected?.length || !msg.signature?.length) {
        throw new LiaisonError('ERR_DECODE', 'envelope lacks signed, protected or signature bytes');
      }
      return { signed: msg.signed, protected: msg.protected, signature: msg.signature };
    },
  };
}
