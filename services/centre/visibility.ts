import { decideReceive, receiveCeiling, type Policy } from '../sdk/policy/index.ts';
import type { CopyScope } from '../sdk/policy/index.ts';
import { visibleAt, type Tier } from '../sdk/tier.ts';
import type { Occurrence } from './store.ts';

/** What an agency may know of one occurrence of a correlated value. */
export interface View {
  /** The agency sent the message itself. */
  own: boolean;
  /** The tier at which the agency could have received the message (undefined: it could not). */
  tier?: Tier;
  /** It may learn that this message holds the value (its own, or the field is within its tier). */
  seesValue: boolean;
}

const BROADCAST = 'all';

/**
 * What `agency` may know of an occurrence, from the policy alone: its own message entirely; someone
 * else's only if the agency could itself have received that message — a broadcast (or a copy
 * directed to it, or one it observes) that its ceiling rule admits with the message's handling code
 * and TLP — and only the fields at or below the tier of that copy. A message directed to the centre
 * alone is never visible to another agency, whatever its tier.
 */
export function viewOf(policy: Policy, agency: string, occ: Occurrence): View {
  if (occ.agency === agency) return { own: true, tier: 'special', seesValue: true };
  const scope: CopyScope | undefined = receiveCeiling(policy, agency, occ.type, 'observe')
    ? 'observe'
    : occ.recipient === BROADCAST
      ? 'broadcast'
      : occ.recipient === agency
        ? 'direct'
        : undefined;
  if (!scope) return { own: false, seesValue: false };
  const ceiling = receiveCeiling(policy, agency, occ.type, scope);
  if (!ceiling) return { own: false, seesValue: false };
  const d = decideReceive(policy, { receiver: agency, sender: occ.agency, type: occ.type, recipient: occ.recipient, tier: ceiling.tier, handling: occ.handling, tlp: occ.tlp });
  if (!d.allowed) return { own: false, seesValue: false };
  return { own: false, tier: ceiling.tier, seesValue: visibleAt(occ.fieldTier, ceiling.tier) };
}

/** True when `tier` is visible to a view (a context field of the message, e.g. its route). */
export function viewSees(view: View, tier: Tier): boolean {
  return view.tier !== undefined && visibleAt(tier, view.tier);
}
