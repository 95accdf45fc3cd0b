import { HANDLING_CODES, TLP_LABELS, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { agencyAccess, fieldsBetween, roleAccess, type Access, type FieldCatalog } from './access.ts';
import { agencyServes, sendableTypes } from './compile.ts';
import type { CopyScope, Policy } from './model.ts';

/** Whose access changed: a role (any agency holding it), or an agency (over all its roles). */
export type DiffSubject = 'role' | 'agency';

/** A change in what a role or agency receives of one type in one scope. */
export interface ReceiveChange {
  subject: DiffSubject;
  /** Role name or agency id. */
  name: string;
  type: string;
  scope: CopyScope;
  /** Ceiling tier in A and in B (undefined: not received). */
  before?: Tier;
  after?: Tier;
  ruleBefore?: string;
  ruleAfter?: string;
  /** Field paths seen in B but not in A, and in A but not in B. */
  gained: string[];
  lost: string[];
  /** Handling codes and TLP labels admitted in B but not in A (gained), or in A but not in B (lost). */
  handling: { gained: HandlingCode[]; lost: HandlingCode[] };
  tlp: { gained: TlpLabel[]; lost: TlpLabel[] };
}

/** A send or serve right gained or lost. */
export interface RightChange {
  subject: DiffSubject;
  name: string;
  type: string;
  change: 'gained' | 'lost';
}

/** An agency whose roles changed. */
export interface AgencyRolesChange {
  agency: string;
  added: string[];
  removed: string[];
}

/** What `liaison policy diff A B` reports: what B gives or takes away compared with A. */
export interface PolicyDiff {
  a: { name: string; hash: string; file?: string };
  b: { name: string; hash: string; file?: string };
  roles: { added: string[]; removed: string[] };
  agencies: { added: string[]; removed: string[]; roles: AgencyRolesChange[] };
  /** Receive changes, roles first then agencies, each by name, type and scope. */
  receive: ReceiveChange[];
  send: RightChange[];
  serve: RightChange[];
  /** True when B grants exactly what A grants (the hashes may still differ: descriptions, retention, state). */
  same: boolean;
}

function about(p: Policy): PolicyDiff['a'] {
  return { name: p.name, hash: p.hash, ...(p.source.file !== undefined ? { file: p.source.file } : {}) };
}

function minus<T>(a: readonly T[], b: readonly T[]): T[] {
  const s = new Set(b);
  return a.filter((x) => !s.has(x));
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

function byKey(list: Access[]): Map<string, Access> {
  return new Map(list.map((x) => [`${x.type}\u0000${x.scope}`, x]));
}

function compareAccess(fields: FieldCatalog, subject: DiffSubject, name: string, before: Access[], after: Access[]): ReceiveChange[] {
  const a = byKey(before);
  const b = byKey(after);
  const out: ReceiveChange[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const order = fields.types();
  keys.sort((x, y) => {
    const [tx, sx] = x.split('\u0000') as [string, string];
    const [ty, sy] = y.split('\u0000') as [string, string];
    return order.indexOf(tx) - order.indexOf(ty) || SCOPE_ORDER.indexOf(sx) - SCOPE_ORDER.indexOf(sy);
  });
  for (const key of keys) {
    const x = a.get(key);
    const y = b.get(key);
    const { type, scope } = (x ?? y)!;
    const handling = { gained: minus(y?.handling ?? [], x?.handling ?? []), lost: minus(x?.handling ?? [], y?.handling ?? []) };
    const tlp = { gained: minus(y?.tlp ?? [], x?.tlp ?? []), lost: minus(x?.tlp ?? [], y?.tlp ?? []) };
    if (x && y && x.tier === y.tier && !handling.gained.length && !handling.lost.length && !tlp.gained.length && !tlp.lost.length) continue;
    out.push({
      subject,
      name,
      type,
      scope,
      ...(x ? { before: x.tier, ruleBefore: x.rule } : {}),
      ...(y ? { after: y.tier, ruleAfter: y.rule } : {}),
      gained: fieldsBetween(fields, type, x?.tier, y?.tier),
      lost: fieldsBetween(fields, type, y?.tier, x?.tier),
      handling: { gained: sortAs(handling.gained, HANDLING_CODES), lost: sortAs(handling.lost, HANDLING_CODES) },
      tlp: { gained: sortAs(tlp.gained, TLP_LABELS), lost: sortAs(tlp.lost, TLP_LABELS) },
    });
  }
  return out;
}

const SCOPE_ORDER: readonly string[] = ['direct', 'broadcast', 'observe'];

function sortAs<T extends string>(values: T[], order: readonly T[]): T[] {
  return order.filter((v) => values.includes(v));
}

function compareRights(subject: DiffSubject, name: string, before: readonly string[], after: readonly string[]): RightChange[] {
  return [
    ...minus(after, before).map((type) => ({ subject, name, type, change: 'gained' as const })),
    ...minus(before, after).map((type) => ({ subject, name, type, change: 'lost' as const })),
  ];
}

/**
 * What policy `b` gains or loses compared with `a`: added and removed roles and agencies, agencies
 * whose roles changed, and for every role and every agency each (type, scope) whose ceiling tier
 * or admitted markings changed — with the field paths gained and lost — and each send or serve
 * right gained or lost. An added role or agency gains everything it has; a removed one loses all.
 */
export function diffPolicies(a: Policy, b: Policy, fields: FieldCatalog): PolicyDiff {
  const rolesA = Object.keys(a.roles);
  const rolesB = Object.keys(b.roles);
  const agenciesA = Object.keys(a.agencies);
  const agenciesB = Object.keys(b.agencies);
  const receive: ReceiveChange[] = [];
  const send: RightChange[] = [];
  const serve: RightChange[] = [];
  for (const role of union(rolesA, rolesB)) {
    receive.push(...compareAccess(fields, 'role', role, a.roles[role] ? roleAccess(a, role, fields) : [], b.roles[role] ? roleAccess(b, role, fields) : []));
    send.push(...compareRights('role', role, a.roles[role]?.send ?? [], b.roles[role]?.send ?? []));
    serve.push(...compareRights('role', role, a.roles[role]?.serve ?? [], b.roles[role]?.serve ?? []));
  }
  const roleChanges: AgencyRolesChange[] = [];
  for (const id of union(agenciesA, agenciesB)) {
    const inA = a.agencies[id] !== undefined;
    const inB = b.agencies[id] !== undefined;
    receive.push(...compareAccess(fields, 'agency', id, inA ? agencyAccess(a, id, fields) : [], inB ? agencyAccess(b, id, fields) : []));
    send.push(...compareRights('agency', id, inA ? sendableTypes(a, id) : [], inB ? sendableTypes(b, id) : []));
    serve.push(...compareRights('agency', id, inA ? agencyServes(a, id) : [], inB ? agencyServes(b, id) : []));
    if (inA && inB) {
      const added = minus(b.agencies[id]!.roles, a.agencies[id]!.roles);
      const removed = minus(a.agencies[id]!.roles, b.agencies[id]!.roles);
      if (added.length || removed.length) roleChanges.push({ agency: id, added, removed });
    }
  }
  const roles = { added: minus(rolesB, rolesA).sort(), removed: minus(rolesA, rolesB).sort() };
  const agencies = { added: minus(agenciesB, agenciesA).sort(), removed: minus(agenciesA, agenciesB).sort(), roles: roleChanges };
  const same = !roles.added.length && !roles.removed.length && !agencies.added.length && !agencies.removed.length && !roleChanges.length && !receive.length && !send.length && !serve.length;
  return { a: about(a), b: about(b), roles, agencies, receive, send, serve, same };
}
