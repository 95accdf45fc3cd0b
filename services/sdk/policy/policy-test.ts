import { isNode, LineCounter, parseDocument } from 'yaml';
import { asLiaisonError, ERROR_CODES, LiaisonError, type ErrorCode } from '../errors.ts';
import { HANDLING_CODES, TIERS, TLP_LABELS, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { CONTROL_TYPES } from './builtin.ts';
import { checkReceive, decideSend, receiveCeiling } from './decide.ts';
import { ruleName, type CopyScope, type Policy, type TypeCatalog } from './model.ts';
import { closest, IssueList } from './issues.ts';
import { oneOf } from './yaml-walk.ts';
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

/**
 * The names a test file may use: the policy's agencies and roles, the catalogue's types. Given to
 * {@link parsePolicyTests}, any other name is a load error — a misspelt type with `expect: deny` would
 * otherwise "pass", since the policy denies a type it has never heard of.
 */
export interface PolicyTestNames {
  policy: string;
  agencies: readonly string[];
  roles: readonly string[];
  types: readonly string[];
}

/** The names of {@link PolicyTestNames} for a policy and the type catalogue (control types included). */
export function policyTestNames(policy: Policy, catalog: TypeCatalog): PolicyTestNames {
  return { policy: policy.name, agencies: Object.keys(policy.agencies), roles: Object.keys(policy.roles), types: [...catalog.types(), ...CONTROL_TYPES] };
}

/** Records one problem at the node of a key path (or the deepest part of it the file has). */
type Problem = (path: (string | number)[], message: string) => void;

/** `unknown WHAT "s" (…; did you mean "x"?)`: every candidate listed when `list`, else only the closest. */
function unknownName(what: string, s: string, candidates: readonly string[], where: string, list: boolean): string {
  const hint = closest(s, candidates);
  const known = list ? `expected one of ${candidates.join(', ')}` : where;
  return `unknown ${what} "${s}" (${known}${hint ? `; did you mean "${hint}"?` : ''})`;
}

/** Check a name a case uses against the known ones (nothing to check without `names`). */
function checkName(problem: Problem, at: (string | number)[], what: 'agency' | 'role' | 'message type', value: string | undefined, names: PolicyTestNames | undefined): void {
  if (value === undefined || !names) return;
  const known = what === 'agency' ? names.agencies : what === 'role' ? names.roles : names.types;
  if (known.includes(value)) return;
  const where = what === 'message type' ? 'not a type of the message catalogue' : `policy ${names.policy} has no such ${what}`;
  problem(at, unknownName(what, value, known, where, false));
}

/** A scope, handling code or TLP label: its default when absent, else one of `allowed` (reported otherwise). */
function markingOf<T extends string>(problem: Problem, at: (string | number)[], what: string, value: unknown, fallback: T, allowed: readonly string[]): T {
  if (value === undefined) return fallback;
  const msg = typeof value === 'string' ? oneOf(what, allowed)(value) : `expected one of ${allowed.join(', ')}`;
  if (msg) problem(at, msg);
  return value as T;
}

/** The `expect:` of case `i`: allow, deny, `{ deny: CODE }` (a known error code) or `{ tier: TIER }` (a tier). */
function expectOf(problem: Problem, i: number, e: unknown): PolicyCase['expect'] | undefined {
  const at = ['cases', i, 'expect'];
  if (e === 'allow' || e === 'deny') return { allow: e === 'allow' };
  if (obj(e) && typeof e.deny === 'string') {
    if (ERROR_CODES[e.deny as ErrorCode] !== undefined) return { allow: false, code: e.deny };
    problem([...at, 'deny'], unknownName('error code', e.deny, Object.keys(ERROR_CODES), 'not a Liaison error code', false));
    return undefined;
  }
  if (obj(e) && typeof e.tier === 'string') {
    if ((TIERS as readonly string[]).includes(e.tier)) return { allow: true, tier: e.tier as Tier };
    problem([...at, 'tier'], unknownName('tier', e.tier, TIERS, '', true));
    return undefined;
  }
  problem(at, 'expected allow, deny, { deny: CODE } or { tier: TIER }');
  return undefined;
}

/** One case of the file, every problem reported; undefined when it cannot be run. */
function parseCase(problem: Problem, c: unknown, i: number, names: PolicyTestNames | undefined): PolicyCase | undefined {
  if (!obj(c)) return void problem(['cases', i], 'expected a mapping');
  const asRole = typeof c.role === 'string' && c.as === undefined;
  const as = typeof c.as === 'string' ? c.as : typeof c.role === 'string' ? c.role : undefined;
  if (!as) problem(['cases', i], 'name the agency (as: ID) or the role (role: NAME)');
  else checkName(problem, ['cases', i, asRole ? 'role' : 'as'], asRole ? 'role' : 'agency', as, names);
  const send = typeof c.send === 'string' ? c.send : undefined;
  const receive = typeof c.receive === 'string' ? c.receive : undefined;
  if (Boolean(send) === Boolean(receive)) problem(['cases', i], 'give exactly one of send: TYPE or receive: TYPE');
  checkName(problem, ['cases', i, send ? 'send' : 'receive'], 'message type', send ?? receive, names);
  if (c.from !== undefined && (typeof c.from !== 'string' || !receive)) problem(['cases', i, 'from'], 'a sending agency id, for receive cases only');
  else checkName(problem, ['cases', i, 'from'], 'agency', typeof c.from === 'string' ? c.from : undefined, names);
  if (c.to !== undefined && (typeof c.to !== 'string' || !send)) problem(['cases', i, 'to'], 'a recipient agency id or all, for send cases only');
  else if (c.to !== 'all') checkName(problem, ['cases', i, 'to'], 'agency', typeof c.to === 'string' ? c.to : undefined, names);
  const scope = markingOf<CopyScope>(problem, ['cases', i, 'scope'], 'scope', c.scope, c.to === 'all' ? 'broadcast' : 'direct', ['direct', 'broadcast', 'observe']);
  const handling = markingOf<HandlingCode>(problem, ['cases', i, 'handling'], 'handling code', c.handling, 'H2', HANDLING_CODES);
  const tlp = markingOf<TlpLabel>(problem, ['cases', i, 'tlp'], 'TLP label', c.tlp, 'GREEN', TLP_LABELS);
  const expect = expectOf(problem, i, c.expect);
  if (!as || !expect || !(send || receive)) return undefined;
  return {
    name: typeof c.name === 'string' ? c.name : `${as} ${send ? `sends ${send}` : `receives ${receive}`}`,
    as,
    asRole,
    ...(send ? { send } : {}),
    ...(receive ? { receive } : {}),
    ...(typeof c.to === 'string' ? { to: c.to } : {}),
    ...(typeof c.from === 'string' ? { from: c.from } : {}),
    scope,
    handling,
    tlp,
    expect,
  };
}

/**
 * Parse a policy test file (`cases:` list); every problem named by FILE:LINE:COL and key path, in one
 * ERR_CONFIG_INVALID. With `names` (see {@link policyTestNames}), an agency, role, sender, recipient or type the
 * policy or catalogue does not have is a problem too, with a "did you mean".
 */
export function parsePolicyTests(text: string, file: string, names?: PolicyTestNames): PolicyCase[] {
  const lineCounter = new LineCounter();
  const ydoc = parseDocument(text, { lineCounter, prettyErrors: false });
  const issues = new IssueList(file, lineCounter);
  if (ydoc.errors.length) {
    const e = ydoc.errors[0]!;
    issues.add(e.pos[0], '', `not YAML: ${e.message.split('\n')[0]}`);
    throw new LiaisonError('ERR_CONFIG_INVALID', issues.items[0]!.text, { file, errors: issues.items.map((i) => i.text) });
  }
  const doc: unknown = ydoc.toJS();
  const problem: Problem = (path, message) => {
    let node: unknown;
    for (let n = path.length; n >= 0 && !isNode(node); n--) node = ydoc.getIn(path.slice(0, n), true);
    const key = path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
    issues.add(isNode(node) ? node.range?.[0] : undefined, key, message);
  };
  const cases = obj(doc) && Array.isArray(doc.cases) ? doc.cases : (problem(['cases'], 'expected a list of cases'), []);
  const out = cases.map((c: unknown, i: number) => parseCase(problem, c, i, names)).filter((c): c is PolicyCase => c !== undefined);
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
