import { PACKAGE } from '../sdk/schema/catalogue-list.ts';
import type { Catalog } from '../sdk/schema/model.ts';
import { fieldTier, type FieldNode, type TypeNode } from '../sdk/schema/nodes.ts';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it), as a plain object. */
export type JsonSchema = Record<string, unknown>;

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

/** The component name of a type: `Person` for Liaison types, else its full name with `_` for dots. */
export function componentName(node: TypeNode): string {
  const full = node.type.fullName.slice(1);
  return full.startsWith(`${PACKAGE}.`) ? full.slice(PACKAGE.length + 1) : full.replace(/\./g, '_');
}

function scalarSchema(t: string): JsonSchema {
  if (t === 'string') return { type: 'string' };
  if (t === 'bool') return { type: 'boolean' };
  if (t === 'double' || t === 'float') return { oneOf: [{ type: 'number' }, { type: 'string', enum: ['NaN', 'Infinity', '-Infinity'] }] };
  if (INT32.has(t)) return { type: 'integer', minimum: -(2 ** 31), maximum: 2 ** 31 - 1 };
  if (UINT32.has(t)) return { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 };
  if (INT64.has(t)) return { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?\\d+$' }], description: '64-bit integer: a number, or a decimal string beyond 2^53' };
  if (t === 'bytes') return { type: 'string', contentEncoding: 'base64' };
  return {};
}

/** The schema of one value of a field (an element, for repeated and map fields). */
function elementSchema(f: FieldNode, ref: (n: TypeNode) => JsonSchema): JsonSchema {
  switch (f.kind) {
    case 'scalar':
      return scalarSchema(f.scalar);
    case 'enum':
      return { type: 'string', enum: Object.keys(f.enumValues!).filter((n) => !n.endsWith('_UNSPECIFIED')) };
    case 'timestamp':
      return { type: 'string', format: 'date-time' };
    case 'message':
      return f.child ? ref(f.child) : { type: 'object' };
  }
}

function fieldSchema(f: FieldNode, ref: (n: TypeNode) => JsonSchema): JsonSchema {
  const el = elementSchema(f, ref);
  const described = (s: JsonSchema): JsonSchema => {
    const meaning = (f.field.comment ?? '').replace(/\s+/g, ' ').trim();
    const tier = f.field.parent && (f.field.parent as { fullName?: string }).fullName?.startsWith(`.${PACKAGE}.`) ? fieldTier(f.field) : undefined;
    return { ...s, ...(meaning ? { description: meaning } : {}), ...(tier ? { 'x-liaison-sensitivity': tier } : {}) };
  };
  if (f.map) return described({ type: 'object', additionalProperties: el });
  if (f.repeated) return described({ type: 'array', items: el });
  // A referenced schema takes its siblings in OpenAPI 3.1 (JSON Schema 2020-12).
  return described(el);
}

/** The object schema of a message type: every field optional (proto3), unknown fields refused as the gateway refuses them. */
export function typeSchema(node: TypeNode, ref: (n: TypeNode) => JsonSchema): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const f of node.fields) properties[f.name] = fieldSchema(f, ref);
  const meaning = (node.type.comment ?? '').replace(/\s+/g, ' ').trim();
  return { type: 'object', ...(meaning ? { description: meaning } : {}), properties, additionalProperties: false };
}

/**
 * One JSON Schema per message type of the catalogue (family types and the value types they use), as
 * OpenAPI components: nested types by `$ref` to `#/components/schemas/<Name>`.
 */
export function catalogueSchemas(catalog: Catalog): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  const pending: TypeNode[] = [];
  const ref = (n: TypeNode): JsonSchema => {
    const name = componentName(n);
    if (!(name in out)) {
      out[name] = {};
      pending.push(n);
    }
    return { $ref: `#/components/schemas/${name}` };
  };
  for (const info of catalog.types.values()) ref(info.node);
  while (pending.length) {
    const n = pending.shift()!;
    out[componentName(n)] = typeSchema(n, ref);
  }
  return out;
}
