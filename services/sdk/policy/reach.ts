import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';
import { canSend, decideSend, receiveCeiling, type Decision, type SendPlan } from './decide.ts';
import { ruleName, type Policy } from './model.ts';

/**
 * The complete answer of `liaison policy recipients` and of `policy why --send` without `--to`:
 * besides who gets which copy (the send plan), every other agency of the policy with the reason it
 * gets nothing, and — for a question without a recipient — whom the agency could reach at all,
 * by broadcast and directed, at which tier. Pure policy evaluation; the broker agreement is
 * checked in test/policy-tools.test.ts.
 *
 * @module
 */

/** An agency that receives no copy, and why. */
export interface Unreached {
  agency: string;
  reason: string;
}

/** {@link decideSend} with the agencies left out. */
export interface Reach {
  decision: Decision;
  plan?: SendPlan;
  /** Every agency but the sender that is neither in a copy nor skipped for its markings. */
  nothing: Unreached[];
}

/** Who receives a message from `sender` of `type` to `recipient` (`all` for a broadcast), and why everyone else does not. */
export function reach(policy: Policy, req: { sender: string; type: string; recipient: string; handling: HandlingCode; tlp: TlpLabel }): Reach {
  const d = decideSend(policy, req);
  const plan = 'plan' in d ? d.plan : undefined;
  const { plan: _plan, ...decision } = d;
  if (!plan) return { decision, nothing: [] };
  const placed = new Set([...plan.copies.flatMap((c) => c.recipients), ...plan.skipped.map((s) => s.agency)]);
  const nothing: Unreached[] = [];
  for (const id of Object.keys(policy.agencies).sort()) {
    if (id === req.sender || placed.has(id)) continue;
    const observe = `; it observes no ${req.type}`;
    if (req.recipient === 'all') nothing.push({ agency: id, reason: `no receive rule of its roles (${policy.agencies[id]!.roles.join(', ')}) takes ${req.type} by broadcast${observe}` });
    else nothing.push({ agency: id, reason: `the message is directed to ${req.recipient}${observe}` });
  }
  return { decision, plan, nothing };
}

/** Whom an agency may send a type to, when no recipient is named. */
export interface SendReach {
  /** May it send the type at all (the send rule)? */
  decision: Decision;
  /** A broadcast with these markings: the plan, or the refusal. */
  broadcast: Reach;
  /** Agencies a directed copy may go to, with their tier and rule; the others, with the reason. */
  directed: { agency: string; tier: Tier; rule: string }[];
  undirectable: Unreached[];
}

/** {@link reach} for every possible recipient of `type` from `sender`. */
export function sendReach(policy: Policy, req: { sender: string; type: string; handling: HandlingCode; tlp: TlpLabel }): SendReach {
  const decision = canSend(policy, req.sender, req.type);
  const broadcast = reach(policy, { ...req, recipient: 'all' });
  const directed: SendReach['directed'] = [];
  const undirectable: Unreached[] = [];
  if (decision.allowed) {
    for (const id of Object.keys(policy.agencies).sort()) {
      if (id === req.sender) continue;
      const d = decideSend(policy, { ...req, recipient: id });
      const copy = 'plan' in d ? d.plan?.copies.find((c) => c.recipients.includes(id)) : undefined;
      const ceiling = receiveCeiling(policy, id, req.type, 'direct');
      if (d.allowed && copy && ceiling) directed.push({ agency: id, tier: copy.tier, rule: ruleName(ceiling.rule) });
      else undirectable.push({ agency: id, reason: d.reason });
    }
  }
  return { decision, broadcast, directed, undirectable };
}
