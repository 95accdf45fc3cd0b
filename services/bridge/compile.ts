import { LiaisonError } from '../sdk/errors.ts';
import { ACK_WAIT_MS, MAX_ACK_PENDING, canSend, receiveCeiling, ruleName, type ConsumerSpec, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { SUBJECT_ROOT, agencyJsApi, inboxPrefix, messageSubject, streamName } from '../sdk/subjects.ts';
import { TIERS, tierRank, type HandlingCode, type Tier, type TlpLabel } from '../sdk/tier.ts';
import { flowName, parseQualified, peerOf, qualified, type Agreement, type Flow } from './agreement/model.ts';

/**
 * One federation's side of an agreement, compiled to broker artefacts like a policy (bridge design §4). The
 * agreement admits pairs; this side's own policy still bounds its own agencies: a local sender only for types its
 * roles may send, a local recipient only for types it receives directed, at its own ceiling. A flow the policy
 * cannot honour is left out and reported in `issues`, never widened.
 *
 * @module
 */

/** One admitted (sender, recipient, type) across the agreement, ids in this side's namespace (the foreign one qualified). */
export interface CrossRoute {
  sender: string;
  recipient: string;
  type: string;
  family: string;
  /**
   * Outbound: the highest tier the flow admits (or, given the peer's policy, the tier its recipient reads).
   * Inbound: the one tier this side delivers — the local recipient's direct ceiling, which its consumer reads.
   */
  tier: Tier;
  /** Outbound only: true when `tier` is the peer recipient's own ceiling (its policy was given), so one copy is sealed. */
  exact?: boolean;
  /** The agreement flow admitting it: `flows[<index>]`. */
  flow: string;
  /** Inbound only: the handling codes and TLP labels the recipient's direct rules at that tier admit (its own policy's bound). */
  admits?: { handling: HandlingCode[]; tlp: TlpLabel[] };
}

/** This federation's side of one agreement. */
export interface BridgeSide {
  agreementId: string;
  /** This federation's name. */
  self: string;
  /** The other federation's name. */
  peer: string;
  /** Local sender → foreign (qualified) recipient. */
  outbound: CrossRoute[];
  /** Foreign (qualified) sender → local recipient. */
  inbound: CrossRoute[];
  /** Per local sender: the exact subjects of its outbound routes (each tier it may seal), to add to its user JWT. */
  senderPublish: Record<string, string[]>;
  /**
   * Pull consumers in the local streams the bridge reads the outbound copies from: one per outbound route and tier
   * its sender seals. One per tier, because a family's stream has one subject per tier and nats-server 2.9 refuses a
   * filter that is not a subset of one of them (`liaison.v1.*.<family>.…`).
   */
  exportConsumers: ConsumerSpec[];
  /** The export user: pull, inspect and ack the export consumers, its own inbox; nothing else. */
  exportUser: { pub: string[]; sub: string[] };
  /** The import user: publish exactly the inbound routes' subjects and the peer's directory subject, its own inbox. */
  importUser: { pub: string[]; sub: string[] };
  /** Flows (or types of flows) left out because this side's policy cannot honour them. */
  issues: string[];
  /** Flows admitted narrower than written (a tier capped by the local ceiling). */
  notes: string[];
}

/** Where the bridge publishes the peer's root-signed directory into this federation (design §6). */
export function foreignDirectorySubjectOf(peer: string): string {
  return `${SUBJECT_ROOT}.trust.foreign.${peer}`;
}

/** The NATS account (and inbox owner) name of an agreement's bridge users: `_bridge_<id>`. */
export function bridgeAccountName(agreementId: string): string {
  return `_bridge_${agreementId}`;
}

/** The inbox prefix of an agreement's export or import user: `_INBOX__bridge_<id>_export`. */
export function bridgeInbox(agreementId: string, user: 'export' | 'import'): string {
  return inboxPrefix(`${bridgeAccountName(agreementId)}_${user}`);
}

/** Consumer names allow letters, digits, '-' and '_' here: anything else becomes '_'. */
function consumerToken(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The export consumer of an outbound route's copies at one tier: `bridge_<peer>_<sender>_<recipient>_<Type>_<tier>` (the recipient unqualified). */
export function exportConsumerName(peer: string, sender: string, recipientAgency: string, type: string, tier: Tier): string {
  return ['bridge', peer, sender, recipientAgency, type, tier].map(consumerToken).join('_');
}

/** The tiers up to and including `tier`, lowest first. */
export function tiersUpTo(tier: Tier): Tier[] {
  return TIERS.filter((t) => tierRank(t) <= tierRank(tier));
}

/** Options of {@link compileBridgeSide}. */
export interface CompileBridgeOptions {
  /** The peer's policy (from its verified directory): outbound routes then carry its recipients' own ceilings. */
  peerPolicy?: Policy;
}

/**
 * Compile `self`'s side of `agreement` under its own `policy`. ERR_AGREEMENT_INVALID when `self` is not a party.
 * A flow type whose family the catalogue does not know → ERR_TYPE_UNKNOWN (parseAgreement checked it).
 */
export function compileBridgeSide(agreement: Agreement, self: string, policy: Policy, catalog: TypeCatalog, opts: CompileBridgeOptions = {}): BridgeSide {
  const peer = peerOf(agreement, self)?.name;
  if (!peer) throw new LiaisonError('ERR_AGREEMENT_INVALID', `agreement ${agreement.id} is not between ${self} and another federation`, { agreement: agreement.id });
  const issues: string[] = [];
  const notes: string[] = [];
  const outbound: CrossRoute[] = [];
  const inbound: CrossRoute[] = [];
  const ctx: RouteContext = { agreement, self, peer, policy, catalog, issues, notes, ...(opts.peerPolicy ? { peerPolicy: opts.peerPolicy } : {}) };
  for (const flow of agreement.flows) {
    for (const type of flow.types) {
      if (parseQualified(flow.from)?.federation === self) pushRoute(outbound, outboundRoute(ctx, flow, type));
      else pushRoute(inbound, inboundRoute(ctx, flow, type));
    }
  }
  const exportConsumers = outbound.flatMap((r) => routeSendTiers(r).map((tier) => exportConsumer(agreement.id, peer, r, tier)));
  return {
    agreementId: agreement.id,
    self,
    peer,
    outbound,
    inbound,
    senderPublish: senderPublish(outbound),
    exportConsumers,
    exportUser: exportUser(agreement.id, exportConsumers),
    importUser: importUser(agreement.id, peer, inbound),
    issues,
    notes,
  };
}

interface RouteContext {
  agreement: Agreement;
  self: string;
  peer: string;
  policy: Policy;
  peerPolicy?: Policy;
  catalog: TypeCatalog;
  issues: string[];
  notes: string[];
}

function pushRoute(list: CrossRoute[], r: CrossRoute | undefined): void {
  if (r) list.push(r);
}

function familyOf(catalog: TypeCatalog, type: string): string {
  const family = catalog.familyOf(type);
  if (family === undefined) throw new LiaisonError('ERR_TYPE_UNKNOWN', `the agreement names type "${type}", which the catalogue does not define`, { type });
  return family;
}

function where(ctx: RouteContext, flow: Flow, type: string): string {
  return `agreement ${ctx.agreement.id} ${flowName(flow)} (${flow.from} → ${flow.to}, ${type})`;
}

/** A local sender's route: it must be an agency of the policy whose roles may send the type. */
function outboundRoute(ctx: RouteContext, flow: Flow, type: string): CrossRoute | undefined {
  const sender = parseQualified(flow.from)!.agency;
  const recipient = parseQualified(flow.to)!.agency;
  if (!ctx.policy.agencies[sender]) {
    ctx.issues.push(`${where(ctx, flow, type)}: ${sender} is not an agency of policy ${ctx.policy.name}; left out`);
    return undefined;
  }
  const send = canSend(ctx.policy, sender, type);
  if (!send.allowed) {
    ctx.issues.push(`${where(ctx, flow, type)}: ${sender} may not send ${type} under policy ${ctx.policy.name} (${send.reason}); left out`);
    return undefined;
  }
  const route: CrossRoute = { sender, recipient: qualified(ctx.peer, recipient), type, family: familyOf(ctx.catalog, type), tier: flow.tier, flow: flowName(flow) };
  if (!ctx.peerPolicy) return route;
  const tier = deliveredTier(ctx, ctx.peerPolicy, recipient, flow, type, `${ctx.peer}'s policy`);
  return tier ? { ...route, tier, exact: true } : undefined;
}

/** A foreign sender's route to a local recipient: delivered at the recipient's own direct ceiling, within the flow's tier. */
function inboundRoute(ctx: RouteContext, flow: Flow, type: string): CrossRoute | undefined {
  const recipient = parseQualified(flow.to)!.agency;
  const sender = qualified(ctx.peer, parseQualified(flow.from)!.agency);
  const tier = deliveredTier(ctx, ctx.policy, recipient, flow, type, `policy ${ctx.policy.name}`);
  if (!tier) return undefined;
  return { sender, recipient, type, family: familyOf(ctx.catalog, type), tier, flow: flowName(flow), admits: admitted(ctx.policy, recipient, type, tier) };
}

/** The markings the recipient's direct|any rules for the type at `tier` admit, together. */
function admitted(policy: Policy, recipient: string, type: string, tier: Tier): { handling: HandlingCode[]; tlp: TlpLabel[] } {
  const rules = (policy.agencies[recipient]?.roles ?? [])
    .flatMap((r) => policy.roles[r]?.receive ?? [])
    .filter((rule) => rule.types.includes(type) && (rule.scope === 'direct' || rule.scope === 'any') && rule.tier === tier);
  return { handling: [...new Set(rules.flatMap((r) => r.handling))].sort(), tlp: [...new Set(rules.flatMap((r) => r.tlp))].sort() };
}

/**
 * The tier `recipient` gets `type` at under `policy`: its direct ceiling (the tier its consumer reads), when that is
 * at most the flow's tier. None (reported) when it does not receive the type directed, or only above the flow's tier:
 * a lower copy would never reach its consumer, and a higher one the agreement does not admit.
 */
function deliveredTier(ctx: RouteContext, policy: Policy, recipient: string, flow: Flow, type: string, under: string): Tier | undefined {
  const at = where(ctx, flow, type);
  if (!policy.agencies[recipient]) {
    ctx.issues.push(`${at}: ${recipient} is not an agency of ${under}; left out`);
    return undefined;
  }
  const ceiling = receiveCeiling(policy, recipient, type, 'direct');
  if (!ceiling) {
    ctx.issues.push(`${at}: ${recipient} receives no ${type} directed under ${under} (no direct|any receive rule of its roles names it); left out`);
    return undefined;
  }
  if (tierRank(ceiling.tier) > tierRank(flow.tier)) {
    ctx.issues.push(
      `${at}: ${recipient} reads ${type} only at the ${ceiling.tier} tier (${ruleName(ceiling.rule)}), above the flow's ${flow.tier}: its consumer would never see a ${flow.tier} copy; left out`,
    );
    return undefined;
  }
  if (ceiling.tier !== flow.tier) ctx.notes.push(`${at}: capped at the ${ceiling.tier} tier, ${recipient}'s ceiling (${ruleName(ceiling.rule)}), below the flow's ${flow.tier}`);
  return ceiling.tier;
}

/** The tiers a sender seals an outbound route's copies at: its recipient's tier when known, else every tier up to the flow's. */
export function routeSendTiers(r: CrossRoute): Tier[] {
  return r.exact ? [r.tier] : tiersUpTo(r.tier);
}

function routeSubject(r: CrossRoute, tier: Tier): string {
  return messageSubject({ tier, family: r.family, type: r.type, sender: r.sender, recipient: r.recipient });
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function senderPublish(outbound: CrossRoute[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of outbound) out[r.sender] = [...(out[r.sender] ?? []), ...routeSendTiers(r).map((t) => routeSubject(r, t))];
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, sortedUnique(v)]));
}

/** The export consumer of one outbound route at one tier: exactly that copy of that type from that sender to that recipient. */
function exportConsumer(agreementId: string, peer: string, r: CrossRoute, tier: Tier): ConsumerSpec {
  const recipientAgency = parseQualified(r.recipient)!.agency;
  return {
    agency: bridgeAccountName(agreementId),
    stream: streamName(r.family),
    name: exportConsumerName(peer, r.sender, recipientAgency, r.type, tier),
    filterSubject: routeSubject(r, tier),
    tier,
    type: r.type,
    scope: 'direct',
    replica: 1,
    maxAckPending: MAX_ACK_PENDING.default,
    ackWaitMs: ACK_WAIT_MS.default,
  };
}

/** The consumer rights of an agency (compilePermissions' form): info, next message, ack — of these consumers only. */
function exportUser(agreementId: string, consumers: ConsumerSpec[]): { pub: string[]; sub: string[] } {
  const pub = consumers.flatMap((c) => [agencyJsApi(`CONSUMER.INFO.${c.stream}.${c.name}`), agencyJsApi(`CONSUMER.MSG.NEXT.${c.stream}.${c.name}`), `$JS.ACK.${c.stream}.${c.name}.>`]);
  return { pub: sortedUnique(pub), sub: [`${bridgeInbox(agreementId, 'export')}.>`] };
}

function importUser(agreementId: string, peer: string, inbound: CrossRoute[]): { pub: string[]; sub: string[] } {
  const pub = [...inbound.map((r) => routeSubject(r, r.tier)), foreignDirectorySubjectOf(peer)];
  return { pub: sortedUnique(pub), sub: [`${bridgeInbox(agreementId, 'import')}.>`] };
}
