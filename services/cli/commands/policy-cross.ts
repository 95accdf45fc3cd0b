import { readAgreementInput } from '../../bridge/agreement/file.ts';
import { parseAgreement } from '../../bridge/agreement/load.ts';
import { parseQualified } from '../../bridge/agreement/model.ts';
import { readOwnFederation } from '../../bridge/agreement/own.ts';
import { appliedBridges } from '../../bridge/applied.ts';
import { compileBridgeSide, routeSendTiers, type BridgeSide } from '../../bridge/compile.ts';
import { checkCrossReceive, checkCrossSend, routeRule } from '../../bridge/decide.ts';
import { LiaisonError, asLiaisonError } from '../../sdk/errors.ts';
import { parsePolicy, type Policy, type TypeCatalog } from '../../sdk/policy/index.ts';
import type { HandlingCode, TlpLabel } from '../../sdk/tier.ts';
import { need, str, type CliIo, type ParsedArgs } from '../args.ts';

/**
 * `liaison policy why|recipients … --agreement FILE --self NAME`: the same questions for qualified ids across a
 * cross-federation agreement (design §8), answered from this federation's compiled side of it. With `--trust DIR`
 * instead, across every agreement applied on that exchange (TRUST_DIR/bridges, each verified again against both
 * roots), under the policy its root signed unless a POLICY file is named. An answer about local ids only is left to
 * the policy commands (undefined returned).
 *
 * @module
 */

/** This side of the agreement `--agreement` names (YAML or signed; signatures not checked: a what-if tool), or undefined. */
export async function crossSide(args: ParsedArgs, policy: Policy, catalog: TypeCatalog, usage: string): Promise<BridgeSide | undefined> {
  const file = str(args, 'agreement');
  if (file === undefined) {
    if (str(args, 'self') !== undefined) throw new LiaisonError('ERR_USAGE', `--self needs --agreement (usage: ${usage})`);
    return undefined;
  }
  const self = str(args, 'self');
  if (self === undefined) throw new LiaisonError('ERR_USAGE', `--agreement needs --self NAME, this federation's name in it (usage: ${usage})`);
  return compileBridgeSide(parseAgreement((await readAgreementInput(file)).text, file, { catalog }), self, policy, catalog);
}

/**
 * The sides qualified ids are answered from: `--agreement FILE --self NAME` (one, what-if) or `--trust DIR` (every
 * agreement applied there that still verifies; one that does not is reported on stderr and left out). Undefined
 * when neither is given.
 */
export async function crossSides(args: ParsedArgs, policy: Policy, catalog: TypeCatalog, usage: string, io: CliIo): Promise<BridgeSide[] | undefined> {
  const trust = str(args, 'trust');
  if (trust === undefined) {
    const side = await crossSide(args, policy, catalog, usage);
    return side && [side];
  }
  if (str(args, 'agreement') !== undefined || str(args, 'self') !== undefined) throw new LiaisonError('ERR_USAGE', `--trust DIR answers from the agreements applied there: not with --agreement/--self (usage: ${usage})`);
  const own = await readOwnFederation(trust);
  const bridges = await appliedBridges(trust, { federation: own.name, root: own.root }, policy, catalog, { onIssue: (m) => io.err(`liaison: left out: ${m}`) });
  return bridges.map((b) => b.side);
}

/**
 * The policy the question is asked under: the POLICY file, or with `--trust DIR` and no file, the policy that
 * federation's root signed (its directory).
 */
export async function questionPolicy(args: ParsedArgs, catalog: TypeCatalog, usage: string, load: (file: string) => Promise<Policy>): Promise<Policy> {
  const trust = str(args, 'trust');
  if (args.positionals.length === 1) return await load(args.positionals[0]!);
  if (args.positionals.length === 0 && trust !== undefined) return parsePolicy((await readOwnFederation(trust)).policyText, { file: `${trust}:directory policy`, catalog });
  throw new LiaisonError('ERR_USAGE', `expected 1 file argument, or none with --trust DIR (usage: ${usage})`);
}

/**
 * Answer across `sides` with `answer` (crossWhy or crossRecipients): the side of the qualified id's federation that
 * admits it; none admitting, the first one's refusal; no agreement with that federation at all, a refusal saying so.
 * Undefined when no id of the question is qualified (a local question).
 */
export function acrossSides(sides: readonly BridgeSide[], args: ParsedArgs, io: CliIo, answer: (side: BridgeSide, args: ParsedArgs, io: CliIo) => number | undefined): number | undefined {
  const ids = [str(args, 'to'), str(args, 'from')].filter(isForeign);
  if (ids.length === 0) return undefined;
  const peer = parseQualified(ids[0]!)!.federation;
  const candidates = sides.filter((s) => s.peer === peer);
  if (candidates.length === 0) {
    const reason = `no agreement with ${peer} is applied${sides.length ? ` (applied: with ${[...new Set(sides.map((s) => s.peer))].join(', ')})` : ''}`;
    const code = isForeign(str(args, 'to')) ? 'ERR_POLICY_SEND_DENIED' : 'ERR_POLICY_RECEIVE_DENIED';
    io.out(args.values.json === true ? JSON.stringify({ allowed: false, code, reason }) : `DENY  ${code}: ${reason}`);
    return 1;
  }
  let first: { code: number; lines: string[] } | undefined;
  for (const side of candidates) {
    const lines: string[] = [];
    const code = answer(side, args, { ...io, out: (l) => void lines.push(l) });
    if (code === undefined) return undefined;
    if (code === 0) {
      for (const l of lines) io.out(l);
      return 0;
    }
    first ??= { code, lines };
  }
  for (const l of first!.lines) io.out(l);
  return first!.code;
}

const isForeign = (id: string | undefined): id is string => id !== undefined && parseQualified(id) !== undefined;

function markings(args: ParsedArgs): { handling?: HandlingCode; tlp?: TlpLabel } {
  return { ...(str(args, 'handling') ? { handling: str(args, 'handling') as HandlingCode } : {}), ...(str(args, 'tlp') ? { tlp: str(args, 'tlp') as TlpLabel } : {}) };
}

/** `policy why` across: `--send T --to <fed>:<id>` or `--receive T --from <fed>:<id>`; undefined when neither id is qualified. */
export function crossWhy(side: BridgeSide, args: ParsedArgs, io: CliIo): number | undefined {
  const as = need(args, 'as');
  const json = args.values.json === true;
  const send = str(args, 'send');
  const receive = str(args, 'receive');
  const to = str(args, 'to');
  const from = str(args, 'from');
  const answer = (allowed: boolean, text: string, extra: Record<string, unknown>) => {
    io.out(json ? JSON.stringify({ allowed, agreement: side.agreementId, ...extra }) : text);
    return allowed ? 0 : 1;
  };
  if (send && isForeign(to)) {
    const base = { kind: 'send', as, type: send, to };
    try {
      const r = checkCrossSend(side, { sender: as, recipient: to, type: send });
      const tiers = routeSendTiers(r);
      return answer(true, `ALLOW  ${as} sends ${send} to ${to}: ${routeRule(side, r)} admits it; copies ${tiers.join(', ')} (${side.peer}'s broker admits the one its recipient reads)  [${routeRule(side, r)}]`, { ...base, rule: routeRule(side, r), tiers });
    } catch (err) {
      const e = asLiaisonError(err, 'ERR_POLICY_SEND_DENIED');
      return answer(false, `DENY  ${e.code}: ${e.message}`, { ...base, code: e.code, reason: e.message });
    }
  }
  if (receive && isForeign(from)) {
    const base = { kind: 'receive', as, type: receive, from };
    const route = side.inbound.find((r) => r.sender === from && r.recipient === as && r.type === receive);
    try {
      const r = checkCrossReceive(side, { sender: from, recipient: as, type: receive, tier: route?.tier ?? 'public', ...markings(args) });
      return answer(true, `ALLOW  ${as} receives ${receive} from ${from} at the ${r.tier} tier  [${routeRule(side, r)}]`, { ...base, tier: r.tier, rule: routeRule(side, r) });
    } catch (err) {
      const e = asLiaisonError(err, 'ERR_POLICY_RECEIVE_DENIED');
      return answer(false, `DENY  ${e.code}: ${e.message}`, { ...base, code: e.code, reason: e.message });
    }
  }
  return undefined;
}

/**
 * `policy recipients` across: a local sender `--to <fed>:<id>` (the copies it seals), or a foreign `--from <fed>:<id>`
 * (the local agencies the agreement delivers its type to, at which tier); undefined when neither id is qualified.
 */
export function crossRecipients(side: BridgeSide, args: ParsedArgs, io: CliIo): number | undefined {
  const from = need(args, 'from');
  const type = need(args, 'type');
  const to = str(args, 'to');
  const json = args.values.json === true;
  if (isForeign(to)) {
    try {
      const r = checkCrossSend(side, { sender: from, recipient: to, type });
      const copies = routeSendTiers(r).map((tier) => ({ tier, recipients: [to] }));
      if (json) io.out(JSON.stringify({ allowed: true, agreement: side.agreementId, rule: routeRule(side, r), copies }));
      else {
        for (const c of copies) io.out(`${c.tier.padEnd(12)} ${to}`);
        io.out(`(${routeRule(side, r)} allows sending it; one signed copy per tier, ${side.peer}'s broker admits the one ${to} reads)`);
      }
      return 0;
    } catch (err) {
      const e = asLiaisonError(err, 'ERR_POLICY_SEND_DENIED');
      io.out(json ? JSON.stringify({ allowed: false, agreement: side.agreementId, code: e.code, reason: e.message, copies: [] }) : `refused (${e.code}): ${e.message}`);
      return 1;
    }
  }
  if (!isForeign(from)) return undefined;
  const routes = side.inbound.filter((r) => r.sender === from && r.type === type && (to === undefined || r.recipient === to));
  if (json) {
    io.out(JSON.stringify({ allowed: routes.length > 0, agreement: side.agreementId, copies: routes.map((r) => ({ tier: r.tier, recipients: [r.recipient], rule: routeRule(side, r) })), issues: side.issues }));
    return routes.length ? 0 : 1;
  }
  if (!routes.length) {
    io.out(`refused (ERR_POLICY_RECEIVE_DENIED): agreement ${side.agreementId} delivers no ${type} from ${from}${to ? ` to ${to}` : ''} in ${side.self}`);
    for (const i of side.issues.filter((x) => x.includes(`(${from} → `) && x.includes(`, ${type})`))) io.out(`left out    ${i}`);
    return 1;
  }
  for (const r of routes) io.out(`${r.tier.padEnd(12)} ${r.recipient}  [${routeRule(side, r)}]`);
  io.out(`(directed copies only: a flow admits exactly its sender → its recipient)`);
  return 0;
}
