import protobuf from 'protobufjs';
import type { Field, Type } from 'protobufjs';
import { TIERS, tierRank, type Tier } from '../tier.ts';
import { PACKAGE } from './catalogue-list.ts';
import { liaisonOption, sensitivityTier } from './options.ts';

/** How a field's values are converted between JSON and protobufjs. */
export type FieldKind = 'scalar' | 'enum' | 'message' | 'timestamp';

/** A field with everything the hot paths need, resolved once. */
export interface FieldNode {
  readonly field: Field;
  /** camelCase name (protobufjs property and JSON key). */
  readonly name: string;
  /** Name as written in the .proto file. */
  readonly protoName: string;
  readonly rank: number;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly kind: FieldKind;
  /** Scalar type (`string`, `uint64`, …) for scalar fields. */
  readonly scalar: string;
  readonly enumValues?: Readonly<Record<string, number>>;
  readonly enumNames?: Readonly<Record<number, string>>;
  /** For message fields of Liaison types: the nested node (atomic types such as Timestamp have none). */
  child?: TypeNode;
}

/** A projection plan: `null` keeps the message as it is; otherwise the fields to keep. */
export type ProjectionPlan = null | readonly { readonly name: string; readonly repeated: boolean; readonly child: ProjectionPlan }[];

/** A message type with its fields resolved and its per-tier projection plans precomputed. */
export interface TypeNode {
  readonly type: Type;
  readonly name: string;
  readonly fields: FieldNode[];
  /** Fields by camelCase and by proto name. */
  readonly byKey: Map<string, FieldNode>;
  /** Highest effective sensitivity rank of any field, nested included (-1 for no fields). */
  maxRank: number;
  /** Plan per tier rank (index 0 = public). */
  plans: ProjectionPlan[];
}

const TIMESTAMP = '.google.protobuf.Timestamp';

/** True for types of the Liaison package (whose fields carry sensitivities). */
export function isLiaisonType(type: Type): boolean {
  return type.fullName.startsWith(`.${PACKAGE}.`);
}

/** The sensitivity of a field (callers validated that it is set); `special` if unset, to fail closed. */
export function fieldTier(field: Field): Tier {
  return sensitivityTier(liaisonOption(field, 'sensitivity')) ?? 'special';
}

function fieldNode(field: Field, nodes: Map<Type, TypeNode>): FieldNode {
  const resolved = field.resolve().resolvedType;
  const map = field instanceof protobuf.MapField;
  const base = {
    field,
    name: field.name,
    protoName: (field as Field & { protoName?: string }).protoName ?? field.name,
    rank: field.parent instanceof protobuf.Type && !isLiaisonType(field.parent) ? 0 : tierRank(fieldTier(field)),
    repeated: field.repeated,
    map,
    scalar: field.type,
  };
  if (resolved instanceof protobuf.Enum) {
    const names: Record<number, string> = {};
    for (const [k, v] of Object.entries(resolved.values)) if (!(v in names)) names[v] = k;
    return { ...base, kind: 'enum', enumValues: resolved.values, enumNames: names };
  }
  if (resolved instanceof protobuf.Type) {
    if (resolved.fullName === TIMESTAMP) return { ...base, kind: 'timestamp' };
    const node: FieldNode = { ...base, kind: 'message' };
    node.child = typeNode(resolved, nodes);
    return node;
  }
  return { ...base, kind: 'scalar' };
}

/**
 * The node of a type, built once per catalogue (`nodes` is the catalogue's own table; recursive
 * types are handled by registering the node before its fields).
 */
export function typeNode(type: Type, nodes: Map<Type, TypeNode>): TypeNode {
  const known = nodes.get(type);
  if (known) return known;
  const node: TypeNode = { type, name: type.name, fields: [], byKey: new Map(), maxRank: -1, plans: [] };
  nodes.set(type, node);
  for (const field of type.fieldsArray) {
    const f = fieldNode(field, nodes);
    node.fields.push(f);
    node.byKey.set(f.name, f);
    node.byKey.set(f.protoName, f);
  }
  return node;
}

function effectiveMax(node: TypeNode, visiting: Set<TypeNode>): number {
  if (visiting.has(node)) return -1;
  visiting.add(node);
  let max = -1;
  for (const f of node.fields) max = Math.max(max, f.rank, f.child ? effectiveMax(f.child, visiting) : -1);
  visiting.delete(node);
  return max;
}

function plan(node: TypeNode, rank: number, visiting: Set<TypeNode>): ProjectionPlan {
  if (node.maxRank <= rank || visiting.has(node)) return null;
  visiting.add(node);
  const keep = node.fields
    .filter((f) => f.rank <= rank)
    .map((f) => ({ name: f.name, repeated: f.repeated && !f.map, child: f.child && !f.map ? plan(f.child, rank, visiting) : null }));
  visiting.delete(node);
  return keep;
}

/** Fill in maxRank and the per-tier plans of every node (after all nodes exist). */
export function finishNodes(nodes: Iterable<TypeNode>): void {
  const all = [...nodes];
  for (const n of all) n.maxRank = effectiveMax(n, new Set());
  for (const n of all) n.plans = TIERS.map((_, rank) => plan(n, rank, new Set()));
}
