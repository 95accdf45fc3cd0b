import { LiaisonError } from '../errors.ts';
import type { BodyMessage, MessageInfo } from './model.ts';
import type { FieldNode, TypeNode } from './nodes.ts';
import { TIMESTAMP_RANGE, timestampFromDate, timestampFromIso, timestampToIso, type LongLike } from './timestamp.ts';

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * A value refused. Thrown with the path inside the value that failed ('' at the throw site) and
 * prefixed by each enclosing object or list while it unwinds ({@link within}): no path string is built
 * for a value that is valid (issue 16 item 3: one per field of every message sealed).
 */
class Invalid {
  path: string;
  readonly expected: string;
  constructor(path: string, expected: string) {
    this.path = path;
    this.expected = expected;
  }
}

/** `err` with `segment` (a key, `[i]` or `["k"]`) put in front of its path; any other error unchanged. */
function within(err: unknown, segment: string): unknown {
  if (err instanceof Invalid) err.path = !err.path ? segment : err.path.startsWith('[') ? `${segment}${err.path}` : `${segment}.${err.path}`;
  return err;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

/** Integer bounds, computed once (not per value). */
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function integer(value: unknown, path: string, min: bigint, max: bigint, what: string, asString: boolean): number | string {
  // A safe integer needs no BigInt: every bound is beyond 2^53 or exactly representable.
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    if (value < Number(min) || value > Number(max)) throw new Invalid(path, what);
    return asString ? String(value) : value === 0 ? 0 : value;
  }
  let big: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) big = BigInt(value);
  if (big === undefined || big < min || big > max) throw new Invalid(path, what);
  return asString ? big.toString() : Number(big);
}

function scalar(f: FieldNode, value: unknown, path: string): unknown {
  const t = f.scalar;
  if (t === 'string') {
    if (typeof value !== 'string') throw new Invalid(path, 'string');
    return value;
  }
  if (t === 'bool') {
    if (typeof value !== 'boolean') throw new Invalid(path, 'boolean');
    return value;
  }
  if (t === 'double' || t === 'float') {
    if (typeof value === 'number' && !Number.isNaN(value)) return value;
    if (value === 'NaN') return NaN;
    if (value === 'Infinity' || value === '-Infinity') return Number(value);
    throw new Invalid(path, 'number');
  }
  if (INT32.has(t)) return integer(value, path, INT32_MIN, INT32_MAX, '32-bit integer', false);
  if (UINT32.has(t)) return integer(value, path, 0n, UINT32_MAX, 'unsigned 32-bit integer', false);
  if (INT64.has(t)) return integer(value, path, INT64_MIN, INT64_MAX, '64-bit integer (number or decimal string)', true);
  if (UINT64.has(t)) return integer(value, path, 0n, UINT64_MAX, 'unsigned 64-bit integer (number or decimal string)', true);
  if (t === 'bytes') {
    if (value instanceof Uint8Array) return value;
    if (typeof value === 'string' && BASE64.test(value)) return new Uint8Array(Buffer.from(value, 'base64'));
    throw new Invalid(path, 'base64 string');
  }
  throw new Invalid(path, `supported type (${t})`);
}

function enumNames(f: FieldNode): string {
  return `one of ${Object.keys(f.enumValues!).filter((n) => !n.endsWith('_UNSPECIFIED')).join(', ')}`;
}

function enumValue(f: FieldNode, value: unknown, path: string): number {
  if (typeof value === 'string' && Object.hasOwn(f.enumValues!, value)) return f.enumValues![value]!;
  if (typeof value === 'number' && Number.isInteger(value) && Object.hasOwn(f.enumNames!, value)) return value;
  throw new Invalid(path, enumNames(f));
}

function timestamp(value: unknown, path: string): unknown {
  const t = typeof value === 'string' ? timestampFromIso(value) : value instanceof Date ? timestampFromDate(value) : undefined;
  if (!t) throw new Invalid(path, `ISO-8601 ${TIMESTAMP_RANGE} (e.g. 2026-11-28T12:00:00Z)`);
  return t;
}

function isDefault(f: FieldNode, v: unknown): boolean {
  if (f.kind === 'enum') return v === 0;
  if (f.kind !== 'scalar') return false;
  return v === '' || v === 0 || v === false || v === '0' || (v instanceof Uint8Array && v.length === 0);
}

function element(f: FieldNode, value: unknown, path: string): unknown {
  switch (f.kind) {
    case 'scalar':
      return scalar(f, value, path);
    case 'enum':
      return enumValue(f, value, path);
    case 'timestamp':
      return timestamp(value, path);
    case 'message':
      return object(f.child!, value, path);
  }
}

function object(node: TypeNode, value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new Invalid(path, 'object');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    const f = node.byKey.get(key);
    if (!f) throw new Invalid(key, `no such field in ${node.type.fullName.slice(1)}`);
    if (v === null || v === undefined) continue;
    try {
      field(f, v, out);
    } catch (err) {
      throw within(err, key);
    }
  }
  return out;
}

/** One field's value (`v`, present) converted into `out`; an Invalid thrown carries the path inside the field. */
function field(f: FieldNode, v: unknown, out: Record<string, unknown>): void {
  if (f.map) {
    if (!isPlainObject(v)) throw new Invalid('', 'object (map)');
    const m: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) m[k] = itemOf(f, item, k);
    out[f.name] = m;
  } else if (f.repeated) {
    if (!Array.isArray(v)) throw new Invalid('', 'array');
    if (v.length) out[f.name] = v.map((item, i) => itemOf(f, item, i));
  } else {
    const converted = element(f, v, '');
    if (!isDefault(f, converted)) out[f.name] = converted;
  }
}

/** One entry of a list (index `at`) or map (key `at`). */
function itemOf(f: FieldNode, item: unknown, at: number | string): unknown {
  try {
    return element(f, item, '');
  } catch (err) {
    throw within(err, typeof at === 'number' ? `[${at}]` : `[${JSON.stringify(at)}]`);
  }
}

/**
 * Validate a JSON body against the message schema and build the protobufjs message. Accepts camelCase
 * and proto field names, enum names (or numbers), ISO-8601 strings for Timestamp fields, base64 for
 * bytes and decimal strings for 64-bit integers; `null` means absent and proto3 default values are
 * dropped. Throws ERR_BODY_INVALID naming the field path (`DocumentReport.issuingCountry: expected
 * string, got number`), with `details.field` = the path inside the body.
 */
export function fromJson(info: MessageInfo, value: unknown): BodyMessage {
  let plain: Record<string, unknown>;
  try {
    plain = object(info.node, value, '');
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const got = err.path ? pick(value, err.path) : value;
    const field = err.path || undefined;
    const where = field ? `${info.name}.${field}` : info.name;
    const msg = err.expected.startsWith('no such field') ? `unknown field (${err.expected})` : `expected ${err.expected}, got ${kindOf(got)}`;
    throw new LiaisonError('ERR_BODY_INVALID', `${where}: ${msg}`, { type: info.name, field: field ?? '' });
  }
  try {
    return info.type.fromObject(plain);
  } catch (err) {
    throw new LiaisonError('ERR_BODY_INVALID', `${info.name}: ${(err as Error).message}`, { type: info.name, field: '' }, { cause: err });
  }
}

function pick(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const part of path.match(/[^.[\]]+|\[[^\]]*\]/g) ?? []) {
    const key = part.startsWith('[') ? JSON.parse(part.slice(1, -1)) as string | number : part;
    v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[key] : undefined;
  }
  return v;
}

function longOut(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && 'toNumber' in v) {
    const n = (v as LongLike).toNumber();
    return Number.isSafeInteger(n) ? n : (v as LongLike).toString();
  }
  return v;
}

/** One value out; a value the send side would refuse (unknown enum number, timestamp out of range) throws Invalid. */
function elementOut(f: FieldNode, v: unknown, path: string): unknown {
  switch (f.kind) {
    case 'enum': {
      if (typeof v === 'string' && Object.hasOwn(f.enumValues!, v)) return v;
      if (typeof v !== 'number' || !Object.hasOwn(f.enumNames!, v)) throw new Invalid(path, enumNames(f));
      return f.enumNames![v];
    }
    case 'timestamp': {
      const iso = timestampToIso(v as { seconds?: number; nanos?: number });
      if (iso === undefined) throw new Invalid(path, TIMESTAMP_RANGE);
      return iso;
    }
    case 'message':
      return toPlain(f.child!, v as Record<string, unknown>, path);
    case 'scalar':
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      return longOut(v);
  }
}

function isEmpty(f: FieldNode, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (f.repeated) return Array.isArray(v) ? v.length === 0 : Object.keys(v as object).length === 0;
  if (f.kind === 'enum') return v === 0;
  if (f.kind !== 'scalar') return false;
  if (typeof v === 'object' && 'toNumber' in (v as object)) return (v as LongLike).toString() === '0';
  return v === '' || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0);
}

function toPlain(node: TypeNode, msg: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of node.fields) {
    const v = msg[f.name];
    if (isEmpty(f, v)) continue;
    const p = path ? `${path}.${f.name}` : f.name;
    if (f.map) out[f.name] = Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, elementOut(f, x, `${p}[${JSON.stringify(k)}]`)]));
    else if (f.repeated) out[f.name] = (v as unknown[]).map((x, i) => elementOut(f, x, `${p}[${i}]`));
    else out[f.name] = elementOut(f, v, p);
  }
  return out;
}

/**
 * A message as a plain JSON object: camelCase keys, enums as names, Timestamps as ISO-8601 strings,
 * bytes as base64, 64-bit integers as numbers (decimal strings beyond 2^53); default values omitted.
 * A decoded message holding what {@link fromJson} refuses (an enum number the schema does not define,
 * a Timestamp outside years 1–9999 or with nanos out of range) throws ERR_BODY_INVALID naming the field:
 * the receiver validates exactly as the sender does.
 */
export function toJson(info: MessageInfo, message: BodyMessage | Record<string, unknown>): Record<string, unknown> {
  try {
    return toPlain(info.node, message as Record<string, unknown>, '');
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    throw new LiaisonError('ERR_BODY_INVALID', `${info.name}.${err.path}: expected ${err.expected}`, { type: info.name, field: err.path });
  }
}
