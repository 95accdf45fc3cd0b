import type { FastifyInstance } from 'fastify';
import { asLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { checkReceive, receiveCeiling, type Policy } from '../../sdk/policy/index.ts';
import { reach, sendReach } from '../../sdk/policy/reach.ts';
import { HANDLING_CODES, TLP_LABELS, type HandlingCode, type TlpLabel } from '../../sdk/tier.ts';
import type { GatewayContext, RouteConfig } from '../context.ts';
import { queryString, type Query } from '../params.ts';

function markings(q: Query): { handling: HandlingCode; tlp: TlpLabel } {
  const handling = queryString(q, 'handling') ?? 'H2';
  const tlp = queryString(q, 'tlp') ?? 'GREEN';
  if (!(HANDLING_CODES as readonly string[]).includes(handling)) throw new LiaisonError('ERR_USAGE', `handling must be one of ${HANDLING_CODES.join(', ')}`);
  if (!(TLP_LABELS as readonly string[]).includes(tlp)) throw new LiaisonError('ERR_USAGE', `tlp must be one of ${TLP_LABELS.join(', ')}`);
  return { handling: handling as HandlingCode, tlp: tlp as TlpLabel };
}

function whySend(policy: Policy, self: string, type: string, q: Query): Record<string, unknown> {
  const to = queryString(q, 'to');
  if (to) {
    const r = reach(policy, { sender: self, type, recipient: to, ...markings(q) });
    return { kind: 'send', as: self, type, to, ...r.decision, copies: r.plan?.copies ?? [], skipped: r.plan?.skipped ?? [] };
  }
  const r = sendReach(policy, { sender: self, type, ...markings(q) });
  return { kind: 'send', as: self, type, ...r.decision, broadcast: { ...r.broadcast.decision, copies: r.broadcast.plan?.copies ?? [] }, directed: r.directed, undirectable: r.undirectable };
}

function whyReceive(policy: Policy, self: string, type: string, q: Query): Record<string, unknown> {
  const from = queryString(q, 'from');
  const scope = receiveCeiling(policy, self, type, 'observe') ? 'observe' : 'direct';
  const ceiling = receiveCeiling(policy, self, type, scope);
  const base = { kind: 'receive', as: self, type, scope, ...(from ? { from } : {}) };
  if (!ceiling) return { ...base, allowed: false, code: 'ERR_POLICY_RECEIVE_DENIED', reason: 'no rule matched' };
  if (!from) return { ...base, allowed: true, tier: ceiling.tier, rule: `roles.${ceiling.rule.role}.receive[${ceiling.rule.index}]` };
  try {
    const g = checkReceive(policy, { receiver: self, sender: from, type, recipient: self, tier: ceiling.tier, ...markings(q) });
    return { ...base, allowed: true, tier: g.tier, rule: g.ruleName };
  } catch (err) {
    const e = asLiaisonError(err, 'ERR_POLICY_RECEIVE_DENIED');
    return { ...base, allowed: false, code: e.code, reason: e.message, ...(typeof e.details['rule'] === 'string' ? { rule: e.details['rule'] } : {}) };
  }
}

/** `GET /v1/policy/why?send=TYPE[&to=ID] | ?receive=TYPE[&from=ID]`: the decision of the policy this gateway enforces. */
export function policyRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const config: RouteConfig = { scope: 'policy' };
  app.get<{ Querystring: Query }>('/v1/policy/why', { config }, async (req) => {
    const send = queryString(req.query, 'send');
    const receive = queryString(req.query, 'receive');
    if (Boolean(send) === Boolean(receive)) throw new LiaisonError('ERR_USAGE', 'give send=TYPE (and to=ID) or receive=TYPE (and from=ID)');
    const type = ctx.client.catalog.get((send ?? receive)!).name;
    return send ? whySend(ctx.client.policy, ctx.client.id, type, req.query) : whyReceive(ctx.client.policy, ctx.client.id, type, req.query);
  });
}
