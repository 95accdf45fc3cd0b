import { attachmentTiersOf } from '../schema/attachment-fields.ts';
import { fieldsAt, type Catalog } from '../schema/index.ts';
import { HANDLING_CODES, TIERS, TLP_LABELS, tierRank, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { receiveCeiling } from './decide.ts';
import { ruleName, type CopyScope, type Policy, type ReceiveRule, type TypeCatalog } from './model.ts';
import { withRoleProbe } from './probe.ts';

/**
 * Effective receive access, as the policy tools (`explain`, `diff`) report it: for a role or an
 * agency, each (type, scope) it receives, at which ceiling tier, under which rule, admitting which
 * handling codes and TLP labels, and therefore which fields it sees.
 */

/** The message catalogue with the field paths visible at each tier (see `fieldsAt` of the schema runtime). */
export interface FieldCatalog extends TypeCatalog {
  /** Field paths (dotted for nested fields) visible in a copy of `type` at `tier`, in declaration order. */
  fieldsAt(type: string, tier: Tier): readonly string[];
}

/** The copy scopes, in report order. */
export const COPY_SCOPES: readonly CopyScope[] = ['direct', 'broadcast', 'observe'];

/** The schema catalogue as a {@link FieldCatalog}. */
export function fieldCatalogOf(catalog: Catalog): FieldCatalog {
  const names = [...catalog.types.keys()];
  const cache = new Map<string, readonly string[]>();
  return {
    familyOf: (type) => catalog.types.get(type)?.family,
    types: () => names,
    attachmentTiers: (type) => attachmentTiersOf(catalog, type),
    fieldsAt(type, tier) {
      const key = `${type}@${tier}`;
      let out = cache.get(key);
      if (!out) {
        const info = catalog.types.get(type);
        out = info ? fieldsAt(info, tier) : [];
        cache.set(key, out);
      }
      return out;
    },
  };
}

/** One (type, scope) a role or agency receives. */
export interface Access {
  type: string;
  scope: CopyScope;
  /** The ceiling tier: the copy it gets. */
  tier: Tier;
  /** The rule that sets the ceiling, e.g. `roles.ngo.receive[0]`. */
  rule: string;
  /** Handling codes admitted by the rules at the ceiling tier. */
  handling: HandlingCode[];
  /** TLP labels admitted by the rules at the ceiling tier (broadcasts never carry RED or AMBER+STRICT). */
  tlp: TlpLabel[];
}

function rulesAt(policy: Policy, agency: string, type: string, scope: CopyScope, tier: Tier): ReceiveRule[] {
  const roles = policy.agencies[agency]?.roles ?? [];
  return roles
    .flatMap((r) => policy.roles[r]?.receive ?? [])
    .filter((rule) => rule.tier === tier && rule.types.includes(type) && (rule.scope === scope || (rule.scope === 'any' && scope !== 'observe')));
}

/** Every (type, scope) `agency` receives, by type then scope (the engine's {@link receiveCeiling}). */
export function agencyAccess(policy: Policy, agency: string, catalog: TypeCatalog): Access[] {
  const out: Access[] = [];
  for (const type of catalog.types()) {
    for (const scope of COPY_SCOPES) {
      const ceiling = receiveCeiling(policy, agency, type, scope);
      if (!ceiling) continue;
      const at = rulesAt(policy, agency, type, scope, ceiling.tier);
      out.push({
        type,
        scope,
        tier: ceiling.tier,
        rule: ruleName(ceiling.rule),
        handling: HANDLING_CODES.filter((h) => at.some((r) => r.handling.includes(h))),
        tlp: TLP_LABELS.filter((t) => at.some((r) => r.tlp.includes(t))),
      });
    }
  }
  return out;
}

/** Every (type, scope) any agency holding only `role` receives. */
export function roleAccess(policy: Policy, role: string, catalog: TypeCatalog): Access[] {
  const probe = withRoleProbe(policy, role);
  return agencyAccess(probe.policy, probe.agency, catalog);
}

/** Fields visible at `to` but not at `from` (undefined: no access, nothing visible). */
export function fieldsBetween(fields: FieldCatalog, type: string, from: Tier | undefined, to: Tier | undefined): string[] {
  const seen = new Set(from ? fields.fieldsAt(type, from) : []);
  return (to ? fields.fieldsAt(type, to) : []).filter((f) => !seen.has(f));
}

/** The higher of two tiers (undefined counts as nothing). */
export function maxTier(a: Tier | undefined, b: Tier | undefined): Tier | undefined {
  if (!a) return b;
  if (!b) return a;
  return tierRank(a) >= tierRank(b) ? a : b;
}

/** Tiers from public up to and including `top`. */
export function tiersUpTo(top: Tier): Tier[] {
  return TIERS.filter((t) => tierRank(t) <= tierRank(top));
}
