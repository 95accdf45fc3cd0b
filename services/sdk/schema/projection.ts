import type { Type } from 'protobufjs';
import { TIERS, tierRank, type Tier } from '../tier.ts';
import type { BodyMessage, MessageInfo } from './model.ts';
import type { ProjectionPlan, TypeNode } from './nodes.ts';

function apply(type: Type, plan: ProjectionPlan, msg: Record<string, unknown>): Record<string, unknown> {
  if (plan === null) return msg;
  const out = type.create() as unknown as Record<string, unknown>;
  for (const f of plan) {
    const v = msg[f.name];
    if (v === null || v === undefined) continue;
    if (f.child === null) out[f.name] = v;
    else {
      const childType = type.fields[f.name]!.resolvedType as Type;
      out[f.name] = f.repeated
        ? (v as Record<string, unknown>[]).map((x) => apply(childType, f.child, x))
        : apply(childType, f.child, v as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * The copy of `message` at `tier`: every field whose sensitivity is above the tier is absent,
 * recursively (a nested field's effective sensitivity is the maximum of its own and its parent
 * field's). Uses the per-tier plans precomputed at load; returns `message` itself when nothing is
 * above the tier. Never mutates `message`.
 */
export function project(info: MessageInfo, message: BodyMessage, tier: Tier): BodyMessage {
  const plan = info.node.plans[tierRank(tier)];
  if (plan === undefined) throw new RangeError(`unknown tier ${String(tier)}`);
  return apply(info.type, plan, message as unknown as Record<string, unknown>) as unknown as BodyMessage;
}

function visible(node: TypeNode, rank: number, prefix: string, out: string[], path: Set<TypeNode>): void {
  if (path.has(node)) return;
  path.add(node);
  for (const f of node.fields) {
    if (f.rank > rank) continue;
    const p = prefix + f.name;
    out.push(p);
    if (f.child) visible(f.child, rank, `${p}.`, out, path);
  }
  path.delete(node);
}

/**
 * Field paths (camelCase, dotted for nested fields, e.g. `vessel.imoNumber`) visible in a copy at
 * `tier`, in declaration order. Top-level paths have no dot.
 */
export function fieldsAt(info: MessageInfo, tier: Tier): string[] {
  const out: string[] = [];
  visible(info.node, tierRank(tier), '', out, new Set());
  return out;
}

/** The highest effective sensitivity of any field of the type, nested fields included. */
export function maxSensitivity(info: MessageInfo): Tier {
  return TIERS[Math.max(0, info.node.maxRank)]!;
}

function present(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return v.length > 0;
  return true;
}

function above(node: TypeNode, rank: number, inherited: number, msg: Record<string, unknown>, prefix: string, out: string[]): void {
  if (Math.max(node.maxRank, inherited) <= rank) return;
  for (const f of node.fields) {
    const v = msg[f.name];
    if (!present(v)) continue;
    const eff = Math.max(f.rank, inherited);
    if (eff > rank) out.push(prefix + f.name);
    else if (f.child) {
      const items = f.repeated ? (v as Record<string, unknown>[]) : [v as Record<string, unknown>];
      items.forEach((x, i) => above(f.child!, rank, eff, x, `${prefix}${f.name}${f.repeated ? `[${i}]` : ''}.`, out));
    }
  }
}

/**
 * The paths of fields `message` carries above `tier` (empty for a proper copy at that tier).
 * Receivers use it to refuse a copy that holds more than its tier allows, whoever produced it.
 */
export function fieldsAboveTier(info: MessageInfo, message: BodyMessage, tier: Tier): string[] {
  const out: string[] = [];
  above(info.node, tierRank(tier), -1, message as unknown as Record<string, unknown>, '', out);
  return out;
}
