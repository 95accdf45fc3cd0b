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

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parse an RFC 3339 / ISO-8601 instant (`2026-11-28T12:00:00.123Z`) keeping nanoseconds; undefined if invalid. */
export function timestampFromIso(text: string): TimestampValue | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return { seconds: ms / 1000, nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}

/** A timestamp from a Date. */
export function timestampFromDate(d: Date): TimestampValue | undefined {
  const ms = d.getTime();
  if (Number.isNaN(ms)) return undefined;
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

function toNumber(v: TimestampValue['seconds'] | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'object' ? v.toNumber() : Number(v);
}

/** Format a timestamp as RFC 3339 UTC: milliseconds, or nanoseconds when it has sub-millisecond digits. */
export function timestampToIso(t: { seconds?: TimestampValue['seconds'] | null; nanos?: number | null }): string {
  const seconds = toNumber(t.seconds);
  const nanos = t.nanos ?? 0;
  const base = new Date(seconds * 1000 + Math.floor(nanos / 1_000_000)).toISOString();
  if (nanos % 1_000_000 === 0) return base;
  return `${base.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}
