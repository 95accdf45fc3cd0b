import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';

/** Source reliability (Europol 4x4): A completely reliable … X cannot be judged. */
export type SourceReliability = 'A' | 'B' | 'C' | 'X';
/** Information reliability (Europol 4x4): 1 known true … 4 cannot be judged. */
export type InformationReliability = 1 | 2 | 3 | 4;

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
  seconds: number | { toNumber(): number };
  nanos?: number;
}

function toTimestamp(d: Date): Timestamp {
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function fromTimestamp(t: Timestamp | null | undefined): Date | undefined {
  if (!t) return undefined;
  const s = typeof t.seconds === 'number' ? t.seconds : t.seconds.toNumber();
  return new Date(s * 1000 + Math.floor((t.nanos ?? 0) / 1_000_000));
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

/**
 * The header from protobufjs `Header.toObject(msg, { enums: String, defaults: true })`. Values that
 * are not set or not valid come back as `undefined` in the partial; {@link validateHeader} reports them.
 */
export function headerFromObject(o: Record<string, unknown>): Partial<MessageHeader> {
  const tlp = strip(o.tlp, TLP_PREFIX);
  const info = strip(o.informationReliability, INFO_PREFIX);
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
    sourceReliability: strip(o.sourceReliability, SOURCE_PREFIX) as SourceReliability | undefined,
    informationReliability: info ? (Number(info) as InformationReliability) : undefined,
    expiresAt: fromTimestamp(o.expiresAt as Timestamp | undefined),
    tier: strip(o.tier, TIER_PREFIX)?.toLowerCase() as Tier | undefined,
    policyHash: (o.policyHash as string) ?? '',
    requestHash: (o.requestHash as string) || undefined,
  };
}
