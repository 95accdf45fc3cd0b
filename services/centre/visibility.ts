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
  // The policy decides from these fields alone: a record's many occurrences share a few combinations.
  const key = `${agency} ${occ.agency} ${occ.type} ${occ.recipient} ${occ.handling} ${occ.tlp} ${occ.fieldTier}`;
  let memo = views.get(policy);
  if (!memo) views.set(policy, (memo = new Map()));
  const hit = memo.get(key);
  if (hit) return hit;
  const view = decideView(policy, agency, occ);
  if (memo.size >= MAX_MEMO) memo.clear();
  memo.set(key, view);
  return view;
}

/** Views already decided, per policy object (a new policy starts afresh), at most {@link MAX_MEMO} each. */
const views = new WeakMap<Policy, Map<string, View>>();
const MAX_MEMO = 10_000;

function decideView(policy: Policy, agency: string, occ: Occurrence): View {
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
