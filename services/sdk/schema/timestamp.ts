/** A protobufjs 64-bit value (a `long` Long). */
export interface LongLike {
  toNumber(): number;
  toString(): string;
}

/** A google.protobuf.Timestamp as protobufjs holds it. */
export interface TimestampValue {
  seconds: number | string | LongLike;
  nanos: number;
}

/** Earliest instant a google.protobuf.Timestamp may hold: 0001-01-01T00:00:00Z. */
export const TIMESTAMP_MIN_SECONDS = -62_135_596_800;
/** Latest instant a google.protobuf.Timestamp may hold: 9999-12-31T23:59:59.999999999Z. */
export const TIMESTAMP_MAX_SECONDS = 253_402_300_799;
/** What a valid timestamp is, for error messages. */
export const TIMESTAMP_RANGE = 'timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z';

/**
 * The one range check of Timestamps, on send and on receive (the google.protobuf.Timestamp rules):
 * whole seconds within years 1 to 9999 and nanos a whole number in [0, 999 999 999].
 */
export function isValidTimestamp(seconds: number, nanos: number): boolean {
  return (
    Number.isInteger(seconds) &&
    seconds >= TIMESTAMP_MIN_SECONDS &&
    seconds <= TIMESTAMP_MAX_SECONDS &&
    Number.isInteger(nanos) &&
    nanos >= 0 &&
    nanos <= 999_999_999
  );
}

/** A received timestamp as whole seconds and nanos, or undefined when it is out of range (see {@link isValidTimestamp}). */
export function checkedTimestamp(t: { seconds?: TimestampValue['seconds'] | null; nanos?: number | null }): { seconds: number; nanos: number } | undefined {
  const seconds = toNumber(t.seconds);
  const nanos = t.nanos ?? 0;
  return isValidTimestamp(seconds, nanos) ? { seconds, nanos } : undefined;
}

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parse an RFC 3339 / ISO-8601 instant (`2026-11-28T12:00:00.123Z`) keeping nanoseconds; undefined if invalid. */
export function timestampFromIso(text: string): TimestampValue | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const t = { seconds: ms / 1000, nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
  return isValidTimestamp(t.seconds, t.nanos) ? t : undefined;
}

/** A timestamp from a Date. */
export function timestampFromDate(d: Date): TimestampValue | undefined {
  const ms = d.getTime();
  if (Number.isNaN(ms)) return undefined;
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  return isValidTimestamp(seconds, nanos) ? { seconds, nanos } : undefined;
}

function toNumber(v: TimestampValue['seconds'] | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'object' ? v.toNumber() : Number(v);
}

/**
 * Format a timestamp as RFC 3339 UTC: milliseconds, or nanoseconds when it has sub-millisecond digits.
 * Undefined when it is out of range ({@link isValidTimestamp}).
 */
export function timestampToIso(t: { seconds?: TimestampValue['seconds'] | null; nanos?: number | null }): string | undefined {
  const valid = checkedTimestamp(t);
  if (!valid) return undefined;
  const { seconds, nanos } = valid;
  const base = new Date(seconds * 1000 + Math.floor(nanos / 1_000_000)).toISOString();
  if (nanos % 1_000_000 === 0) return base;
  return `${base.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}
