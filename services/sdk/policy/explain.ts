import { LiaisonError } from '../errors.ts';
import { TIERS, tierRank, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { fieldsBetween, maxTier, tiersUpTo, type FieldCatalog } from './access.ts';
import { receiveCeiling } from './decide.ts';
import { closest } from './issues.ts';
import { ruleName, type CopyScope, type Policy, type ReceiveRule, type ReceiveScope } from './model.ts';
import { withRoleProbe } from './probe.ts';

/** An agency holding the role of a rule, and where its effective ceiling differs from the rule's tier (another role's rule wins). */
export interface ExplainAgency {
  id: string;
  /** Scopes in which the agency's ceiling is set by another rule, with that tier and rule. */
  overridden: { scope: CopyScope; tier: Tier; rule: string }[];
}

/** One receive rule naming the type: who sees which fields, at which tier and scope. */
export interface ExplainReceiver {
  role: string;
  /** The rule's scope as written (`any` = direct and broadcast). */
  scope: ReceiveScope;
  tier: Tier;
  rule: string;
  handling: HandlingCode[];
  tlp: TlpLabel[];
  agencies: ExplainAgency[];
  /** Set when another rule of the same role sets a higher ceiling in every scope this rule covers: this one never decides. */
  shadowedBy?: string;
  /** Field paths visible at the tier (dotted for nested fields). */
  fields: string[];
  /** Field paths of the type above the tier. */
  hidden: string[];
}

/** A role that may send the type and the agencies holding it. */
export interface ExplainSender {
  role: string;
  agencies: string[];
}

/** Access to one message type. */
export interface ExplainType {
  type: string;
  family: string;
  senders: ExplainSender[];
  receivers: ExplainReceiver[];
  /** For each tier, the field paths it adds to the tier below (every tier, public first). */
  fieldsByTier: { tier: Tier; added: string[] }[];
  /** The highest tier any receiver gets (undefined when nobody receives the type). */
  topTier?: Tier;
}

/** An agency's offline allowance (policy `edge`): its copies are accepted up to this long (plus clock skew) after signing. */
export interface ExplainEdge {
  agency: string;
  offlineMs: number;
}

/** What `liaison policy explain` reports. */
export interface ExplainReport {
  policy: { name: string; hash: string; file?: string };
  filter: { role?: string; type?: string };
  types: ExplainType[];
  /** Offline allowances (of the agencies holding the role, under a role filter); absent when none applies. */
  edge?: ExplainEdge[];
}

/** Filters of {@link explainPolicy}. */
export interface ExplainOptions {
  /** Only this role's rules (and the types it sends or receives). */
  role?: string;
  /** Only this type. */
  type?: string;
}

function coveredScopes(scope: ReceiveScope): CopyScope[] {
  return scope === 'any' ? ['direct', 'broadcast'] : [scope];
}

/**
 * Who can see which fields of which type, at which tier and scope: one row per receive rule naming
 * the type, with the agencies holding the role, the visible and hidden field paths, and whether the
 * rule is shadowed by a higher one. Unknown `role` → ERR_USAGE; unknown `type` → ERR_TYPE_UNKNOWN.
 */
export function explainPolicy(policy: Policy, fields: FieldCatalog, opts: ExplainOptions = {}): ExplainReport {
  const roleNames = Object.keys(policy.roles);
  if (opts.role !== undefined && !policy.roles[opts.role]) {
    const hint = closest(opts.role, roleNames);
    throw new LiaisonError('ERR_USAGE', `policy ${policy.name} has no role "${opts.role}"${hint ? ` (did you mean "${hint}"?)` : ''}; roles: ${roleNames.join(', ')}`, { role: opts.role });
  }
  if (opts.type !== undefined && fields.familyOf(opts.type) === undefined) {
    const hint = closest(opts.type, fields.types());
    throw new LiaisonError('ERR_TYPE_UNKNOWN', `unknown message type "${opts.type}"${hint ? ` (did you mean "${hint}"?)` : ''}`, { type: opts.type });
  }
  const roles = opts.role !== undefined ? [opts.role] : roleNames;
  const types = opts.type !== undefined ? [opts.type] : fields.types();
  const out: ExplainType[] = [];
  for (const type of types) {
    const t = explainType(policy, fields, type, roles);
    if (opts.role !== undefined && opts.type === undefined && t.receivers.length === 0 && !t.senders.some((x) => x.role === opts.role)) continue;
    out.push(t);
  }
  return {
    policy: { name: policy.name, hash: policy.hash, ...(policy.source.file !== undefined ? { file: policy.source.file } : {}) },
    filter: { ...(opts.role !== undefined ? { role: opts.role } : {}), ...(opts.type !== undefined ? { type: opts.type } : {}) },
    types: out,
    ...edgeOf(policy, opts.role),
  };
}

function edgeOf(policy: Policy, role: string | undefined): { edge?: ExplainEdge[] } {
  const edge = Object.entries(policy.edge ?? {})
    .filter(([id]) => role === undefined || policy.agencies[id]?.roles.includes(role))
    .map(([agency, e]) => ({ agency, offlineMs: e.offlineMs }))
    .sort((a, b) => (a.agency < b.agency ? -1 : 1));
  return edge.length > 0 ? { edge } : {};
}

function agenciesWith(policy: Policy, role: string): string[] {
  return Object.values(policy.agencies)
    .filter((a) => a.roles.includes(role))
    .map((a) => a.id)
    .sort();
}

function explainType(policy: Policy, fields: FieldCatalog, type: string, roles: readonly string[]): ExplainType {
  // Every role that sends the type, whatever the role filter: the filter picks the receive rows, and "sent by
  // nobody" under `--role ngo` would claim that no agency may send what the NGO receives.
  const senders = Object.keys(policy.roles)
    .filter((r) => policy.roles[r]!.send.includes(type))
    .map((role) => ({ role, agencies: agenciesWith(policy, role) }));
  const all = fields.fieldsAt(type, 'special');
  const receivers: ExplainReceiver[] = [];
  let topTier: Tier | undefined;
  for (const role of roles) {
    for (const rule of policy.roles[role]!.receive.filter((r) => r.types.includes(type))) {
      const visible = [...fields.fieldsAt(type, rule.tier)];
      const shown = new Set(visible);
      const shadowedBy = shadowingRule(policy, role, type, rule);
      receivers.push({
        role,
        scope: rule.scope,
        tier: rule.tier,
        rule: ruleName(rule),
        handling: rule.handling,
        tlp: rule.tlp,
        agencies: agenciesWith(policy, role).map((id) => ({ id, overridden: overrides(policy, id, type, rule) })),
        ...(shadowedBy ? { shadowedBy } : {}),
        fields: visible,
        hidden: all.filter((f) => !shown.has(f)),
      });
      topTier = maxTier(topTier, rule.tier);
    }
  }
  const fieldsByTier = TIERS.map((tier, i) => ({ tier, added: fieldsBetween(fields, type, i === 0 ? undefined : TIERS[i - 1], tier) }));
  return { type, family: fields.familyOf(type) ?? '', senders, receivers, fieldsByTier, ...(topTier ? { topTier } : {}) };
}

function shadowingRule(policy: Policy, role: string, type: string, rule: ReceiveRule): string | undefined {
  const probe = withRoleProbe(policy, role);
  let by: string | undefined;
  for (const scope of coveredScopes(rule.scope)) {
    const c = receiveCeiling(probe.policy, probe.agency, type, scope);
    if (!c || c.rule === rule || c.tier === rule.tier) return undefined;
    by = ruleName(c.rule);
  }
  return by;
}

function overrides(policy: Policy, agency: string, type: string, rule: ReceiveRule): ExplainAgency['overridden'] {
  const out: ExplainAgency['overridden'] = [];
  for (const scope of coveredScopes(rule.scope)) {
    const c = receiveCeiling(policy, agency, type, scope);
    if (c && c.rule.role !== rule.role && tierRank(c.tier) > tierRank(rule.tier)) out.push({ scope, tier: c.tier, rule: ruleName(c.rule) });
  }
  return out;
}

/** Tiers up to the highest any receiver gets (for printing the field table); all tiers when nobody receives. */
export function explainTiers(t: ExplainType): Tier[] {
  return tiersUpTo(t.topTier ?? 'special');
}
