import { isNode, LineCounter, parseDocument } from 'yaml';
import { LiaisonError } from '../errors.ts';
import { HANDLING_CODES, TIERS, TLP_LABELS, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { asLiaisonError } from '../errors.ts';
import { checkReceive, decideSend, receiveCeiling } from './decide.ts';
import { ruleName, type CopyScope, type Policy } from './model.ts';
import { IssueList } from './issues.ts';
import { withAnySender, withRoleProbe } from './probe.ts';

/** One case of a policy test file. */
export interface PolicyCase {
  name: string;
  /** An agency id, or a role (`role: ngo`: any agency holding only that role). */
  as: string;
  asRole: boolean;
  send?: string;
  receive?: string;
  to?: string;
  /** Receive cases: the sending agency (default: any agency that may send the type). */
  from?: string;
  scope: CopyScope;
  handling: HandlingCode;
  tlp: TlpLabel;
  expect: { allow: boolean; code?: string; tier?: Tier };
}

/** The outcome of one case. */
export interface CaseResult {
  name: string;
  pass: boolean;
  expected: string;
  got: string;
  rule?: string;
}

const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse a policy test file (`cases:` list); every problem named by FILE:LINE:COL and key path, in one ERR_CONFIG_INVALID. */
export function parsePolicyTests(text: string, file: string): PolicyCase[] {
  const lineCounter = new LineCounter();
  const ydoc = parseDocument(text, { lineCounter, prettyErrors: false });
  const issues = new IssueList(file, lineCounter);
  if (ydoc.errors.length) {
    const e = ydoc.errors[0]!;
    issues.add(e.pos[0], '', `not YAML: ${e.message.split('\n')[0]}`);
    throw new LiaisonError('ERR_CONFIG_INVALID', issues.items[0]!.text, { file, errors: issues.items.map((i) => i.text) });
  }
  const doc: unknown = ydoc.toJS();
  /** Record a problem at the deepest node of `path` the file has. */
  const problem = (path: (string | number)[], message: string) => {
    let node: unknown;
    for (let n = path.length; n >= 0 && !isNode(node); n--) node = ydoc.getIn(path.slice(0, n), true);
    const key = path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
    issues.add(isNode(node) ? node.range?.[0] : undefined, key, message);
  };
  const cases = obj(doc) && Array.isArray(doc.cases) ? doc.cases : (problem(['cases'], 'expected a list of cases'), []);
  const out: PolicyCase[] = [];
  cases.forEach((c: unknown, i: number) => {
    if (!obj(c)) return void problem(['cases', i], 'expected a mapping');
    const as = typeof c.as === 'string' ? c.as : typeof c.role === 'string' ? c.role : undefined;
    if (!as) problem(['cases', i], 'name the agency (as: ID) or the role (role: NAME)');
    const send = typeof c.send === 'string' ? c.send : undefined;
    const receive = typeof c.receive === 'string' ? c.receive : undefined;
    if (Boolean(send) === Boolean(receive)) problem(['cases', i], 'give exactly one of send: TYPE or receive: TYPE');
    if (c.from !== undefined && (typeof c.from !== 'string' || !receive)) problem(['cases', i, 'from'], 'a sending agency id, for receive cases only');
    const scope = (c.scope ?? (c.to === 'all' ? 'broadcast' : 'direct')) as CopyScope;
    if (!['direct', 'broadcast', 'observe'].includes(scope)) problem(['cases', i, 'scope'], 'expected direct, broadcast or observe');
    const handling = (c.handling ?? 'H2') as HandlingCode;
    if (!HANDLING_CODES.includes(handling)) problem(['cases', i, 'handling'], `expected one of ${HANDLING_CODES.join(', ')}`);
    const tlp = (c.tlp ?? 'GREEN') as TlpLabel;
    if (!TLP_LABELS.includes(tlp)) problem(['cases', i, 'tlp'], `expected one of ${TLP_LABELS.join(', ')}`);
    const e = c.expect;
    let expect: PolicyCase['expect'] | undefined;
    if (e === 'allow' || e === 'deny') expect = { allow: e === 'allow' };
    else if (obj(e) && typeof e.deny === 'string') expect = { allow: false, code: e.deny };
    else if (obj(e) && typeof e.tier === 'string' && (TIERS as readonly string[]).includes(e.tier)) expect = { allow: true, tier: e.tier as Tier };
    else problem(['cases', i, 'expect'], 'expected allow, deny, { deny: CODE } or { tier: TIER }');
    if (as && expect && (send || receive)) {
      out.push({
        name: typeof c.name === 'string' ? c.name : `${as} ${send ? `sends ${send}` : `receives ${receive}`}`,
        as,
        asRole: typeof c.role === 'string' && c.as === undefined,
        ...(send ? { send } : {}),
        ...(receive ? { receive } : {}),
        ...(typeof c.to === 'string' ? { to: c.to } : {}),
        ...(typeof c.from === 'string' ? { from: c.from } : {}),
        scope,
        handling,
        tlp,
        expect,
      });
    }
  });
  const all = issues.items.map((x) => x.text);
  if (all.length) throw new LiaisonError('ERR_CONFIG_INVALID', `${all[0]}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`, { file, errors: all });
  return out;
}

const describeExpect = (e: PolicyCase['expect']) => (e.tier ? `allow at ${e.tier}` : e.allow ? 'allow' : e.code ? `deny (${e.code})` : 'deny');

/** Run the cases against a policy with the real decision engine (like `opa test`). */
export function runPolicyTests(policy: Policy, cases: readonly PolicyCase[]): CaseResult[] {
  return cases.map((c) => {
    const probe = c.asRole ? withRoleProbe(policy, c.as) : { policy, agency: c.as };
    if (c.asRole && !policy.roles[c.as]) return { name: c.name, pass: false, expected: describeExpect(c.expect), got: `no role "${c.as}" in the policy` };
    if (!c.asRole && !policy.agencies[c.as]) return { name: c.name, pass: false, expected: describeExpect(c.expect), got: `no agency "${c.as}" in the policy` };
    if (c.send) {
      const d = decideSend(probe.policy, { sender: probe.agency, type: c.send, recipient: c.to ?? 'all', handling: c.handling, tlp: c.tlp });
      const pass = d.allowed === c.expect.allow && (!c.expect.code || d.code === c.expect.code);
      const got = d.allowed ? 'allow' : `deny (${d.code}): ${d.reason}`;
      return { name: c.name, pass, expected: describeExpect(c.expect), got, ...(d.rule ? { rule: d.rule } : {}) };
    }
    const type = c.receive!;
    const ceiling = receiveCeiling(probe.policy, probe.agency, type, c.scope);
    const expected = describeExpect(c.expect);
    if (!ceiling) {
      const pass = !c.expect.allow && (!c.expect.code || c.expect.code === 'ERR_POLICY_RECEIVE_DENIED');
      return { name: c.name, pass, expected, got: `deny (ERR_POLICY_RECEIVE_DENIED): no ${c.scope} receive rule names ${type}` };
    }
    if (c.from && !policy.agencies[c.from]) return { name: c.name, pass: false, expected, got: `no agency "${c.from}" in the policy` };
    // The whole receive check, as the receiving SDK makes it: the sender's right, the scope, the tier, handling and TLP.
    const sender = c.from ? { policy: probe.policy, agency: c.from } : withAnySender(probe.policy, type);
    const recipient = c.scope === 'broadcast' ? 'all' : c.scope === 'observe' ? '(another agency)' : probe.agency;
    try {
      const g = checkReceive(sender.policy, { receiver: probe.agency, sender: sender.agency, type, recipient, tier: ceiling.tier, handling: c.handling, tlp: c.tlp });
      const pass = c.expect.allow && (!c.expect.tier || g.tier === c.expect.tier);
      return { name: c.name, pass, expected, got: `allow at ${g.tier}`, rule: g.ruleName };
    } catch (err) {
      const e = asLiaisonError(err, 'ERR_POLICY_RECEIVE_DENIED');
      const pass = !c.expect.allow && (!c.expect.code || e.code === c.expect.code);
      return { name: c.name, pass, expected, got: `deny (${e.code}): ${e.message}`, rule: ruleName(ceiling.rule) };
    }
  });
}
