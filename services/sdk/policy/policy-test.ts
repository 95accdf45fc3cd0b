import { parse } from 'yaml';
import { LiaisonError } from '../errors.ts';
import { HANDLING_CODES, TIERS, TLP_LABELS, type HandlingCode, type Tier, type TlpLabel } from '../tier.ts';
import { decideSend, receiveCeiling } from './decide.ts';
import { ruleName, type CopyScope, type Policy } from './model.ts';
import { withRoleProbe } from './probe.ts';

/** One case of a policy test file. */
export interface PolicyCase {
  name: string;
  /** An agency id, or a role (`role: ngo`: any agency holding only that role). */
  as: string;
  asRole: boolean;
  send?: string;
  receive?: string;
  to?: string;
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

/** Parse a policy test file (`cases:` list); every problem named by its path, in one ERR_CONFIG_INVALID. */
export function parsePolicyTests(text: string, file: string): PolicyCase[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${file}: not YAML: ${(err as Error).message.split('\n')[0]}`, { file });
  }
  const problems: string[] = [];
  const cases = obj(doc) && Array.isArray(doc.cases) ? doc.cases : (problems.push('cases: expected a list of cases'), []);
  const out: PolicyCase[] = [];
  cases.forEach((c: unknown, i: number) => {
    const at = `cases[${i}]`;
    if (!obj(c)) return void problems.push(`${at}: expected a mapping`);
    const as = typeof c.as === 'string' ? c.as : typeof c.role === 'string' ? c.role : undefined;
    if (!as) problems.push(`${at}: name the agency (as: ID) or the role (role: NAME)`);
    const send = typeof c.send === 'string' ? c.send : undefined;
    const receive = typeof c.receive === 'string' ? c.receive : undefined;
    if (Boolean(send) === Boolean(receive)) problems.push(`${at}: give exactly one of send: TYPE or receive: TYPE`);
    const scope = (c.scope ?? (c.to === 'all' ? 'broadcast' : 'direct')) as CopyScope;
    if (!['direct', 'broadcast', 'observe'].includes(scope)) problems.push(`${at}.scope: expected direct, broadcast or observe`);
    const handling = (c.handling ?? 'H2') as HandlingCode;
    if (!HANDLING_CODES.includes(handling)) problems.push(`${at}.handling: expected one of ${HANDLING_CODES.join(', ')}`);
    const tlp = (c.tlp ?? 'GREEN') as TlpLabel;
    if (!TLP_LABELS.includes(tlp)) problems.push(`${at}.tlp: expected one of ${TLP_LABELS.join(', ')}`);
    const e = c.expect;
    let expect: PolicyCase['expect'] | undefined;
    if (e === 'allow' || e === 'deny') expect = { allow: e === 'allow' };
    else if (obj(e) && typeof e.deny === 'string') expect = { allow: false, code: e.deny };
    else if (obj(e) && typeof e.tier === 'string' && (TIERS as readonly string[]).includes(e.tier)) expect = { allow: true, tier: e.tier as Tier };
    else problems.push(`${at}.expect: expected allow, deny, { deny: CODE } or { tier: TIER }`);
    if (as && expect && (send || receive)) {
      out.push({
        name: typeof c.name === 'string' ? c.name : `${as} ${send ? `sends ${send}` : `receives ${receive}`}`,
        as,
        asRole: typeof c.role === 'string' && c.as === undefined,
        ...(send ? { send } : {}),
        ...(receive ? { receive } : {}),
        ...(typeof c.to === 'string' ? { to: c.to } : {}),
        scope,
        handling,
        tlp,
        expect,
      });
    }
  });
  if (problems.length) throw new LiaisonError('ERR_CONFIG_INVALID', `${file}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, { file, errors: problems });
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
    const ceiling = receiveCeiling(probe.policy, probe.agency, c.receive!, c.scope);
    const got = ceiling ? `allow at ${ceiling.tier}` : `deny: no ${c.scope} receive rule names ${c.receive}`;
    const pass = c.expect.allow ? Boolean(ceiling) && (!c.expect.tier || ceiling!.tier === c.expect.tier) : !ceiling;
    return { name: c.name, pass, expected: describeExpect(c.expect), got, ...(ceiling ? { rule: ruleName(ceiling.rule) } : {}) };
  });
}
