/**
 * Sensitivity tiers, lowest to highest. Every schema field carries one; a role receives a type at a
 * tier (its ceiling) and sees exactly the fields whose sensitivity is at or below it.
 */
export const TIERS = ['public', 'operational', 'personal', 'special'] as const;

/** One of {@link TIERS}. */
export type Tier = (typeof TIERS)[number];

/** Rank of a tier: public 0 … special 3. */
export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** True when `value` names a tier. */
export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

/** True when a field of sensitivity `field` is visible in a copy at tier `copy`. */
export function visibleAt(field: Tier, copy: Tier): boolean {
  return tierRank(field) <= tierRank(copy);
}

/** Europol SIENA handling codes. */
export const HANDLING_CODES = ['H0', 'H1', 'H2', 'H3'] as const;
export type HandlingCode = (typeof HANDLING_CODES)[number];

/** Traffic Light Protocol 2.0 labels. */
export const TLP_LABELS = ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'] as const;
export type TlpLabel = (typeof TLP_LABELS)[number];
