import { LiaisonError, type ErrorCode } from '../errors.ts';
import { TIERS, tierRank, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { BUILTIN_RECEIVE_RULE, BUILTIN_ROLE, isControlType } from './builtin.ts';
import { ruleName, sendRuleName, type CopyScope, type Policy, type ReceiveRule } from './model.ts';

/** The broadcast recipient. */
const ALL = 'all';

/** TLP labels that may never be broadcast. */
export const NON_BROADCAST_TLP: readonly TlpLabel[] = ['RED', 'AMBER+STRICT'];

/** The outcome of one policy decision, with the rule that decided it (printed by `liaison policy`). */
export interface Decision {
  allowed: boolean;
  /** Set when refused. */
  code?: ErrorCode;
  /** The deciding rule, e.g. `roles.ngo.receive[0]` or `roles.border-police.send`. */
  rule?: string;
  reason: string;
}

/** What a sender wants to send. */
export interface SendRequest {
  sender: string;
  type: string;
  /** Agency id, or `all` for a broadcast. */
  recipient: string;
  handling: HandlingCode;
  tlp: TlpLabel;
}

/** One copy to publish: its tier and the agencies that receive it. */
export interface PlannedCopy {
  tier: Tier;
  recipients: string[];
}

/** An agency a broadcast leaves out because its ceiling rule does not admit the handling/TLP. */
export interface SkippedRecipient {
  agency: string;
  rule: string;
  reason: string;
}

/** The copies a message needs: one per distinct ceiling tier among its recipients, lowest tier first. */
export interface SendPlan {
  copies: PlannedCopy[];
  /** The rule that allowed the sender to send the type. */
  rule: string;
  /** Broadcast only: agencies left out because their rules do not admit the handling or TLP. */
  skipped: SkippedRecipient[];
}

/** What a receiver got. */
export interface ReceiveRequest {
  receiver: string;
  sender: string;
  type: string;
  /** Signed recipient: an agency id or `all`. */
  recipient: string;
  /** Tier of this copy. */
  tier: Tier;
  handling: HandlingCode;
  tlp: TlpLabel;
}

/** A receiving agency's ceiling for a type and scope, and the rule that sets it. */
export interface Ceiling {
  tier: Tier;
  rule: ReceiveRule;
}

/** A granted receipt: the deciding rule and its name. */
export interface ReceiveGrant extends Ceiling {
  ruleName: string;
}

function deny(code: ErrorCode, reason: string, details: Record<string, unknown>, rule?: string): never {
  throw new LiaisonError(code, reason, { ...details, ...(rule ? { rule } : {}) });
}

function agency(policy: Policy, id: string, as: string) {
  const a = policy.agencies[id];
  if (!a) deny('ERR_AGENCY_UNKNOWN', `${as} "${id}" is not an agency of policy ${policy.name}`, { agency: id });
  return a;
}

/** May `agencyId` send `type`? The deciding rule is the first of its roles whose send list names the type. */
export function canSend(policy: Policy, agencyId: string, type: string): Decision {
  const a = policy.agencies[agencyId];
  if (!a) return { allowed: false, code: 'ERR_AGENCY_UNKNOWN', reason: `"${agencyId}" is not an agency of policy ${policy.name}` };
  if (isControlType(type)) return { allowed: true, rule: sendRuleName(BUILTIN_ROLE), reason: `every agency may send ${type} (built-in)` };
  const role = a.roles.find((r) => policy.roles[r]?.send.includes(type));
  if (role) return { allowed: true, rule: sendRuleName(role), reason: `${sendRuleName(role)} lists ${type}` };
  return {
    allowed: false,
    code: 'ERR_POLICY_SEND_DENIED',
    reason: `no rule matched: no send list of ${agencyId}'s roles (${a.roles.join(', ')}) names ${type}`,
  };
}

function rulesFor(policy: Policy, agencyId: string, type: string, scope: CopyScope): ReceiveRule[] {
  const a = policy.agencies[agencyId];
  if (!a) return [];
  return [...a.roles.flatMap((r) => policy.roles[r]?.receive ?? []), ...(isControlType(type) ? [BUILTIN_RECEIVE_RULE] : [])]
    .filter((rule) => rule.types.includes(type) && (rule.scope === scope || (rule.scope === 'any' && scope !== 'observe')));
}

/**
 * An agency's ceiling for a type in a scope: the highest tier over its roles' matching rules
 * (`any` counts for both scopes); ties go to the first rule. Undefined when nothing matches.
 */
export function receiveCeiling(policy: Policy, agencyId: string, type: string, scope: CopyScope): Ceiling | undefined {
  let best: ReceiveRule | undefined;
  for (const rule of rulesFor(policy, agencyId, type, scope)) if (!best || tierRank(rule.tier) > tierRank(best.tier)) best = rule;
  return best && { tier: best.tier, rule: best };
}

type Admission = { ok: true; rule: ReceiveRule } | { ok: false; rule: ReceiveRule; reason: string };

/**
 * Among the rules at the ceiling tier, the first that admits the handling code and TLP. A rule of
 * a lower tier cannot help: the agency's consumers and permissions carry only its ceiling copy.
 */
function admit(policy: Policy, agencyId: string, type: string, scope: CopyScope, ceiling: Ceiling, handling: HandlingCode, tlp: TlpLabel): Admission {
  const atCeiling = rulesFor(policy, agencyId, type, scope).filter((r) => r.tier === ceiling.tier);
  const ok = atCeiling.find((r) => r.handling.includes(handling) && r.tlp.includes(tlp));
  if (ok) return { ok: true, rule: ok };
  const rule = ceiling.rule;
  const what = !rule.handling.includes(handling) ? `handling ${handling} (admits ${rule.handling.join(', ')})` : `TLP ${tlp} (admits ${rule.tlp.join(', ')})`;
  return { ok: false, rule, reason: `${ruleName(rule)} does not admit ${what} for ${agencyId}` };
}

/**
 * Plan a send, or throw the typed refusal. Directed: the recipient exists, is not the sender, and
 * its ceiling rule for the type (scope direct|any) admits the handling and TLP. Broadcast (`all`):
 * TLP RED and AMBER+STRICT refused; recipients are every other agency with a broadcast|any rule for
 * the type whose ceiling rule admits the handling and TLP; none → ERR_POLICY_NO_RECIPIENT. Either
 * way, every agency observing the type is added to the copy of its observe tier.
 */
export function checkSend(policy: Policy, req: SendRequest): SendPlan {
  agency(policy, req.sender, 'sender');
  const send = canSend(policy, req.sender, req.type);
  if (!send.allowed) deny(send.code!, `${req.sender} may not send ${req.type}: ${send.reason}`, { sender: req.sender, type: req.type });
  const sendRule = send.rule!;
  const plan = req.recipient !== ALL ? planDirect(policy, req, sendRule) : planBroadcast(policy, req, sendRule);
  return addObservers(policy, req, plan);
}

/** Every agency (but the sender) observing the type gets the copy of its tier; one whose rule does not admit the markings is skipped. */
function addObservers(policy: Policy, req: SendRequest, plan: SendPlan): SendPlan {
  const byTier = new Map<Tier, string[]>(plan.copies.map((c) => [c.tier, [...c.recipients]]));
  const skipped = [...plan.skipped];
  let observers = 0;
  for (const id of Object.keys(policy.agencies).sort()) {
    if (id === req.sender) continue;
    const ceiling = receiveCeiling(policy, id, req.type, 'observe');
    if (!ceiling) continue;
    observers++;
    const a = admit(policy, id, req.type, 'observe', ceiling, req.handling, req.tlp);
    if (!a.ok) {
      skipped.push({ agency: id, rule: ruleName(a.rule), reason: a.reason });
      continue;
    }
    byTier.set(ceiling.tier, [...(byTier.get(ceiling.tier) ?? []), id]);
  }
  if (observers === 0) return plan;
  const copies = TIERS.filter((t) => byTier.has(t)).map((tier) => ({ tier, recipients: byTier.get(tier)! }));
  return { copies, rule: plan.rule, skipped };
}

function planBroadcast(policy: Policy, req: SendRequest, sendRule: string): SendPlan {

  if (NON_BROADCAST_TLP.includes(req.tlp)) {
    deny('ERR_POLICY_HANDLING_DENIED', `TLP ${req.tlp} may not be broadcast; send it to named recipients`, { sender: req.sender, type: req.type, tlp: req.tlp });
  }
  const byTier = new Map<Tier, string[]>();
  const skipped: SkippedRecipient[] = [];
  for (const id of Object.keys(policy.agencies).sort()) {
    if (id === req.sender) continue;
    const ceiling = receiveCeiling(policy, id, req.type, 'broadcast');
    if (!ceiling) continue;
    const a = admit(policy, id, req.type, 'broadcast', ceiling, req.handling, req.tlp);
    if (!a.ok) {
      skipped.push({ agency: id, rule: ruleName(a.rule), reason: a.reason });
      continue;
    }
    byTier.set(ceiling.tier, [...(byTier.get(ceiling.tier) ?? []), id]);
  }
  if (byTier.size === 0) {
    const why = skipped.length ? `; skipped: ${skipped.map((s) => s.reason).join('; ')}` : ': no rule matched (no other agency receives it by broadcast)';
    deny('ERR_POLICY_NO_RECIPIENT', `no agency may receive a broadcast ${req.type} from ${req.sender}${why}`, { sender: req.sender, type: req.type });
  }
  const copies = TIERS.filter((t) => byTier.has(t)).map((tier) => ({ tier, recipients: byTier.get(tier)! }));
  return { copies, rule: sendRule, skipped };
}

function planDirect(policy: Policy, req: SendRequest, sendRule: string): SendPlan {
  agency(policy, req.recipient, 'recipient');
  const details = { sender: req.sender, type: req.type, recipient: req.recipient };
  if (req.recipient === req.sender) deny('ERR_POLICY_SEND_DENIED', `${req.sender} may not send ${req.type} to itself`, details);
  const ceiling = receiveCeiling(policy, req.recipient, req.type, 'direct');
  if (!ceiling) {
    deny('ERR_POLICY_RECEIVE_DENIED', `${req.recipient} may not receive ${req.type}: no rule matched (no direct|any receive rule of its roles names it)`, details);
  }
  const a = admit(policy, req.recipient, req.type, 'direct', ceiling, req.handling, req.tlp);
  if (!a.ok) deny('ERR_POLICY_HANDLING_DENIED', a.reason, { ...details, handling: req.handling, tlp: req.tlp }, ruleName(a.rule));
  return { copies: [{ tier: ceiling.tier, recipients: [req.recipient] }], rule: sendRule, skipped: [] };
}

/**
 * Check one received copy, or throw the typed refusal: the sender may send the type; the copy is
 * directed to the receiver or broadcast (and not the receiver's own); its tier equals the receiver's
 * ceiling for that scope; the ceiling rule admits the handling and TLP (and broadcast TLP is not
 * RED or AMBER+STRICT). Returns the deciding rule.
 */
export function checkReceive(policy: Policy, req: ReceiveRequest): ReceiveGrant {
  agency(policy, req.receiver, 'receiver');
  agency(policy, req.sender, 'sender');
  const details = { receiver: req.receiver, sender: req.sender, type: req.type, recipient: req.recipient, tier: req.tier };
  const send = canSend(policy, req.sender, req.type);
  if (!send.allowed) deny('ERR_POLICY_SEND_DENIED', `${req.sender} may not send ${req.type}: ${send.reason}`, details);
  if (req.recipient !== ALL && req.recipient !== req.receiver && !receiveCeiling(policy, req.receiver, req.type, 'observe')) {
    deny('ERR_POLICY_RECEIVE_DENIED', `${req.type} is directed to ${req.recipient}, not to ${req.receiver}`, details);
  }
  if (req.sender === req.receiver) deny('ERR_POLICY_RECEIVE_DENIED', `${req.receiver} does not receive its own ${req.type}`, details);
  const observes = receiveCeiling(policy, req.receiver, req.type, 'observe') !== undefined;
  const scope: CopyScope = observes ? 'observe' : req.recipient === ALL ? 'broadcast' : 'direct';
  if (req.recipient === ALL && NON_BROADCAST_TLP.includes(req.tlp)) {
    deny('ERR_POLICY_HANDLING_DENIED', `TLP ${req.tlp} may not be broadcast`, { ...details, tlp: req.tlp });
  }
  const ceiling = receiveCeiling(policy, req.receiver, req.type, scope);
  if (!ceiling) {
    deny('ERR_POLICY_RECEIVE_DENIED', `${req.receiver} may not receive ${req.type} (${scope}): no rule matched`, details);
  }
  if (ceiling.tier !== req.tier) {
    deny(
      'ERR_POLICY_RECEIVE_DENIED',
      `${req.receiver} receives ${req.type} (${scope}) at tier ${ceiling.tier} (${ruleName(ceiling.rule)}), not ${req.tier}`,
      details,
      ruleName(ceiling.rule),
    );
  }
  const a = admit(policy, req.receiver, req.type, scope, ceiling, req.handling, req.tlp);
  if (!a.ok) deny('ERR_POLICY_HANDLING_DENIED', a.reason, { ...details, handling: req.handling, tlp: req.tlp }, ruleName(a.rule));
  return { tier: ceiling.tier, rule: a.rule, ruleName: ruleName(a.rule) };
}

/** {@link checkSend} as a {@link Decision} (never throws a policy refusal). */
export function decideSend(policy: Policy, req: SendRequest): Decision & { plan?: SendPlan } {
  return decision(() => {
    const plan = checkSend(policy, req);
    const to = plan.copies.map((c) => `${c.tier}: ${c.recipients.join(', ')}`).join('; ');
    return { allowed: true, rule: plan.rule, reason: `${plan.rule} lists ${req.type}; copies ${to}`, plan };
  });
}

/** {@link checkReceive} as a {@link Decision} (never throws a policy refusal). */
export function decideReceive(policy: Policy, req: ReceiveRequest): Decision {
  return decision(() => {
    const g = checkReceive(policy, req);
    return { allowed: true, rule: g.ruleName, reason: `${g.ruleName} admits ${req.type} at ${g.tier}` };
  });
}

function decision<D extends Decision>(run: () => D): D | Decision {
  try {
    return run();
  } catch (err) {
    if (!(err instanceof LiaisonError)) throw err;
    const rule = typeof err.details.rule === 'string' ? err.details.rule : undefined;
    return { allowed: false, code: err.code, ...(rule ? { rule } : {}), reason: err.message };
  }
}
