import { checkedTimestamp, timestampFromDate } from '../schema/timestamp.ts';
import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';

/** Source reliability (Europol 4x4): A completely reliable … X cannot be judged. */
export type SourceReliability = 'A' | 'B' | 'C' | 'X';
/** Information reliability (Europol 4x4): 1 known true … 4 cannot be judged. */
export type InformationReliability = 1 | 2 | 3 | 4;
/** Every source reliability grade. */
export const SOURCE_RELIABILITIES: readonly SourceReliability[] = ['A', 'B', 'C', 'X'];
/** Every information reliability grade. */
export const INFORMATION_RELIABILITIES: readonly InformationReliability[] = [1, 2, 3, 4];

/**
 * The signed header of a message copy, as the SDK hands it around. Receivers trust only this
 * (never NATS headers or the subject, which merely have to agree with it).
 */
export interface MessageHeader {
  /** UUIDv7; the same for every tier copy of one message. */
  id: string;
  /** Full type name, e.g. `liaison.v1.DocumentReport`. */
  type: string;
  sender: string;
  /** Agency id or `all`. */
  recipient: string;
  createdAt: Date;
  caseRef: string;
  correlationId: string;
  causationId: string;
  handling: HandlingCode;
  tlp: TlpLabel;
  sourceReliability?: SourceReliability;
  informationReliability?: InformationReliability;
  expiresAt?: Date;
  /** The sensitivity tier of this copy. */
  tier: Tier;
  /** sha256 of the policy the sender enforced. */
  policyHash: string;
  /** On a reply: base64url SHA-256 of the request envelope it answers. */
  requestHash?: string;
}

const HANDLING_PREFIX = 'HANDLING_CODE_';
const TLP_PREFIX = 'TLP_';
const SOURCE_PREFIX = 'SOURCE_RELIABILITY_';
const INFO_PREFIX = 'INFORMATION_RELIABILITY_';
const TIER_PREFIX = 'SENSITIVITY_';

interface Timestamp {
  seconds: number | { toNumber(): number; toString(): string };
  nanos?: number;
}

/** A Date as a Timestamp; undefined when it is not a valid instant in years 1–9999 ({@link validateHeader} refuses it first). */
function toTimestamp(d: Date): Timestamp | undefined {
  return timestampFromDate(d) as Timestamp | undefined;
}

/** A received Timestamp as a Date; out of range (years 1–9999, nanos) → an invalid Date, which {@link validateHeader} refuses. */
function fromTimestamp(t: Timestamp | null | undefined): Date | undefined {
  if (!t) return undefined;
  const v = checkedTimestamp(t);
  return v ? new Date(v.seconds * 1000 + Math.floor(v.nanos / 1_000_000)) : new Date(Number.NaN);
}

/** The plain object protobufjs `Header.fromObject` takes. */
export function headerToObject(h: MessageHeader): Record<string, unknown> {
  return {
    id: h.id,
    type: h.type,
    sender: h.sender,
    recipient: h.recipient,
    createdAt: toTimestamp(h.createdAt),
    caseRef: h.caseRef,
    correlationId: h.correlationId,
    causationId: h.causationId,
    handling: HANDLING_PREFIX + h.handling,
    tlp: TLP_PREFIX + h.tlp.replace('+', '_'),
    sourceReliability: h.sourceReliability ? SOURCE_PREFIX + h.sourceReliability : 0,
    informationReliability: h.informationReliability ? INFO_PREFIX + String(h.informationReliability) : 0,
    expiresAt: h.expiresAt ? toTimestamp(h.expiresAt) : undefined,
    tier: TIER_PREFIX + h.tier.toUpperCase(),
    policyHash: h.policyHash,
    requestHash: h.requestHash ?? '',
  };
}

function strip(value: unknown, prefix: string): string | undefined {
  return typeof value === 'string' && value.startsWith(prefix) && !value.endsWith('UNSPECIFIED') ? value.slice(prefix.length) : undefined;
}

/** Marks an optional enum whose number the schema does not define (protobufjs hands it over as a number). */
const UNKNOWN_ENUM = '?';

function optionalEnum(value: unknown, prefix: string): string | undefined {
  if (typeof value === 'number' && value !== 0) return UNKNOWN_ENUM;
  return strip(value, prefix);
}

/**
 * The header from protobufjs `Header.toObject(msg, { enums: String, defaults: true })`. Values that
 * are not set or not valid come back as `undefined` in the partial; {@link validateHeader} reports them.
 */
export function headerFromObject(o: Record<string, unknown>): Partial<MessageHeader> {
  const tlp = strip(o.tlp, TLP_PREFIX);
  const info = optionalEnum(o.informationReliability, INFO_PREFIX);
  return {
    id: o.id as string,
    type: o.type as string,
    sender: o.sender as string,
    recipient: o.recipient as string,
    createdAt: fromTimestamp(o.createdAt as Timestamp | undefined),
    caseRef: (o.caseRef as string) ?? '',
    correlationId: (o.correlationId as string) ?? '',
    causationId: (o.causationId as string) ?? '',
    handling: strip(o.handling, HANDLING_PREFIX) as HandlingCode | undefined,
    tlp: (tlp === 'AMBER_STRICT' ? 'AMBER+STRICT' : tlp) as TlpLabel | undefined,
    sourceReliability: optionalEnum(o.sourceReliability, SOURCE_PREFIX) as SourceReliability | undefined,
    informationReliability: info ? (Number(info) as InformationReliability) : undefined,
    expiresAt: fromTimestamp(o.expiresAt as Timestamp | undefined),
    tier: strip(o.tier, TIER_PREFIX)?.toLowerCase() as Tier | undefined,
    policyHash: (o.policyHash as string) ?? '',
    requestHash: (o.requestHash as string) || undefined,
  };
}
