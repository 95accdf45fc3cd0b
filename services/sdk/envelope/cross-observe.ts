import { LiaisonError } from '../errors.ts';
import { receiveCeiling, ruleName, type Policy } from '../policy/index.ts';
import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';
import type { CrossContext } from './cross.ts';

/**
 * Cross copies seen by an agency that is not their recipient (issue 17): an observer of the type (`scope: observe`,
 * e.g. the case registry) picks up a bridged copy in the receiving federation and an outbound copy in the sending
 * one. Inside a federation its own policy governs: the observer takes the copy when its own observe rule for the
 * type is at the copy's tier and admits its markings. The copy must still be one a flow of an agreement in force
 * names (this sender, this recipient, this type, either way): a local agency's store of a copy addressed across
 * that no flow admits is refused, as is a copy naming a federation with which no agreement is in force.
 *
 * @module
 */

/** One copy addressed across, ids in the observer's namespace (the foreign one qualified). */
export interface ObservedCross {
  /** The observing agency. */
  self: string;
  /** The other federation the copy comes from or goes to. */
  peer: string;
  sender: string;
  recipient: string;
  type: string;
  tier: Tier;
  handling: HandlingCode;
  tlp: TlpLabel;
}

function denied(o: ObservedCross, why: string): never {
  throw new LiaisonError('ERR_POLICY_RECEIVE_DENIED', `${o.self} may not observe ${o.type} from ${o.sender} to ${o.recipient}: ${why}`, {
    receiver: o.self,
    sender: o.sender,
    recipient: o.recipient,
    type: o.type,
    tier: o.tier,
  });
}

/** Throw ERR_POLICY_RECEIVE_DENIED unless a flow of the agreement with `o.peer` names this pair and type. */
export function checkCrossPairAgreed(bridges: CrossContext | undefined, o: ObservedCross): void {
  const side = bridges?.sides.get(o.peer);
  if (!side) denied(o, `no cross-federation agreement with ${o.peer} is in force`);
  if (!side.namesPair?.({ sender: o.sender, recipient: o.recipient, type: o.type })) denied(o, `no flow of agreement ${side.agreementId} names this sender, recipient and type`);
}

/**
 * An observer's own policy on a bridged copy (the sender is foreign, so the local policy knows neither it nor its
 * roles): the observer's observe ceiling for the type is the copy's tier, and a rule at that tier admits the copy's
 * handling code and TLP label (ERR_POLICY_HANDLING_DENIED otherwise).
 */
export function checkObserverPolicy(policy: Policy, o: ObservedCross): void {
  const ceiling = receiveCeiling(policy, o.self, o.type, 'observe');
  if (!ceiling) denied(o, `it is not the recipient, and no observe rule of its roles names ${o.type}`);
  if (ceiling.tier !== o.tier) denied(o, `it observes ${o.type} at the ${ceiling.tier} tier (${ruleName(ceiling.rule)}), not ${o.tier}`);
  const rules = (policy.agencies[o.self]?.roles ?? [])
    .flatMap((r) => policy.roles[r]?.receive ?? [])
    .filter((rule) => rule.scope === 'observe' && rule.tier === ceiling.tier && rule.types.includes(o.type));
  if (!rules.some((r) => r.handling.includes(o.handling) && r.tlp.includes(o.tlp))) {
    throw new LiaisonError('ERR_POLICY_HANDLING_DENIED', `${ruleName(ceiling.rule)} does not admit handling ${o.handling} with TLP ${o.tlp} for ${o.self}`, {
      receiver: o.self,
      sender: o.sender,
      type: o.type,
      handling: o.handling,
      tlp: o.tlp,
    });
  }
}
