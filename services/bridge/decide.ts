import { LiaisonError } from '../sdk/errors.ts';
import type { HandlingCode, Tier, TlpLabel } from '../sdk/tier.ts';
import { routeSendTiers, type BridgeSide, type CrossRoute } from './compile.ts';

/**
 * Runtime decisions across an agreement (design §3), on a compiled {@link BridgeSide}: a flow admits exactly its
 * sender → its recipient, for its types, at the tier compiled for the route. Refusals are the policy's own typed
 * errors (ERR_POLICY_SEND_DENIED, ERR_POLICY_RECEIVE_DENIED) naming the agreement and, when one exists, the flow.
 *
 * @module
 */

/** The rule name of a route, as decisions print it: `agreement med-atl flows[0]`. */
export function routeRule(side: Pick<BridgeSide, 'agreementId'>, route: Pick<CrossRoute, 'flow'>): string {
  return `agreement ${side.agreementId} ${route.flow}`;
}

function find(routes: CrossRoute[], sender: string, recipient: string, type: string): CrossRoute | undefined {
  return routes.find((r) => r.sender === sender && r.recipient === recipient && r.type === type);
}

/** Why no route admits the pair: an issue of the side naming it (a flow the local policy cannot honour), or none. */
function why(side: BridgeSide, sender: string, recipient: string, type: string): string {
  const local = (id: string) => (id.includes(':') ? id : `${side.self}:${id}`);
  const pair = `(${local(sender)} → ${local(recipient)}, ${type})`;
  const issue = side.issues.find((i) => i.includes(pair));
  return issue ? `: ${issue}` : ': no flow names this sender, recipient and type';
}

/** The tiers whose projections `sender` seals for the foreign `recipient` (qualified); empty: not allowed. */
export function crossSendTiers(side: BridgeSide, sender: string, recipient: string, type: string): Tier[] {
  const r = find(side.outbound, sender, recipient, type);
  return r ? routeSendTiers(r) : [];
}

/** Throw ERR_POLICY_SEND_DENIED unless an outbound route admits this send; returns the route. */
export function checkCrossSend(side: BridgeSide, req: { sender: string; recipient: string; type: string }): CrossRoute {
  const r = find(side.outbound, req.sender, req.recipient, req.type);
  if (r) return r;
  throw new LiaisonError(
    'ERR_POLICY_SEND_DENIED',
    `${req.sender} may not send ${req.type} to ${req.recipient} under agreement ${side.agreementId}${why(side, req.sender, req.recipient, req.type)}`,
    { ...req, agreement: side.agreementId },
  );
}

/**
 * Throw ERR_POLICY_RECEIVE_DENIED unless an inbound route admits this copy from the (qualified) foreign sender, at
 * exactly the route's tier (the local recipient's ceiling, within the flow's); given the copy's markings,
 * ERR_POLICY_HANDLING_DENIED unless the recipient's rules at that tier admit them. Returns the route.
 */
export function checkCrossReceive(side: BridgeSide, req: { sender: string; recipient: string; type: string; tier: Tier; handling?: HandlingCode; tlp?: TlpLabel }): CrossRoute {
  const r = find(side.inbound, req.sender, req.recipient, req.type);
  const details = { ...req, agreement: side.agreementId };
  if (!r) {
    throw new LiaisonError(
      'ERR_POLICY_RECEIVE_DENIED',
      `${req.recipient} may not receive ${req.type} from ${req.sender} under agreement ${side.agreementId}${why(side, req.sender, req.recipient, req.type)}`,
      details,
    );
  }
  if (r.tier !== req.tier) {
    const rule = routeRule(side, r);
    throw new LiaisonError('ERR_POLICY_RECEIVE_DENIED', `${req.recipient} receives ${req.type} from ${req.sender} at the ${r.tier} tier (${rule}), not ${req.tier}`, { ...details, rule });
  }
  const bad = req.handling !== undefined && r.admits && !r.admits.handling.includes(req.handling) ? `handling ${req.handling} (admits ${r.admits.handling.join(', ')})`
    : req.tlp !== undefined && r.admits && !r.admits.tlp.includes(req.tlp) ? `TLP ${req.tlp} (admits ${r.admits.tlp.join(', ')})` : undefined;
  if (bad) {
    const rule = routeRule(side, r);
    throw new LiaisonError('ERR_POLICY_HANDLING_DENIED', `${req.recipient}'s receive rules for ${req.type} at the ${r.tier} tier do not admit ${bad} (${rule})`, { ...details, rule });
  }
  return r;
}
