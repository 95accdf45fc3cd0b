import { readFile } from 'node:fs/promises';
import { fieldCatalogOf } from '../../sdk/policy/access.ts';
import { diffPolicies } from '../../sdk/policy/diff.ts';
import { explainPolicy } from '../../sdk/policy/explain.ts';
import { formatDurationMs, offlineAllowanceMs } from '../../sdk/policy/edge.ts';
import { freshnessBoundMs, REPLAY_TOLERANCE_MS } from '../../sdk/client/freshness.ts';
import { checkReceive, loadPolicyFile, receiveCeiling, type Policy } from '../../sdk/policy/index.ts';
import { parsePolicyTests, policyTestNames, runPolicyTests } from '../../sdk/policy/policy-test.ts';
import { reach, sendReach } from '../../sdk/policy/reach.ts';
import { LiaisonError, asLiaisonError, isLiaisonError } from '../../sdk/errors.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import type { HandlingCode, TlpLabel } from '../../sdk/tier.ts';
import { need, str, type Command, type ParsedArgs } from '../args.ts';
import { acrossSides, crossRecipients, crossSides, crossWhy, questionPolicy } from './policy-cross.ts';

const catalog = () => fieldCatalogOf(loadCatalog());
const load = async (file: string): Promise<Policy> => loadPolicyFile(file, catalog());
function files(args: ParsedArgs, n: number, usage: string): string[] {
  if (args.positionals.length !== n) throw new LiaisonError('ERR_USAGE', `expected ${n} file argument(s) (usage: ${usage})`);
  return args.positionals;
}

const policyTest: Command = {
  path: ['policy', 'test'],
  summary: 'run YAML test cases against a policy (allow / deny / tier), like opa test; exit 1 when one fails',
  usage: 'liaison policy test POLICY TESTS.yaml [--json]',
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const [p, t] = files(args, 2, policyTest.usage);
    const policy = await load(p!);
    const text = await readFile(t!, 'utf8').catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_CONFIG_INVALID', `cannot read ${t}`);
    });
    let cases;
    try {
      cases = parsePolicyTests(text, t!, policyTestNames(policy, catalog()));
    } catch (err) {
      // Every problem of the file, each at FILE:LINE:COL, then the error itself (exit 2).
      const errors = isLiaisonError(err) ? (err.details?.errors as string[] | undefined) : undefined;
      if (!errors || errors.length < 2) throw err;
      // A file that does not load is the user's mistake to fix (exit 2, like a usage error), never a run of its other cases.
      for (const e of errors) io.err(e);
      throw new LiaisonError('ERR_CONFIG_INVALID', `${t}: ${errors.length} problems`, { file: t });
    }
    const results = runPolicyTests(policy, cases);
    if (args.values.json) io.out(JSON.stringify(results));
    else {
      for (const r of results) io.out(r.pass ? `ok    ${r.name}` : `FAIL  ${r.name}\n      expected ${r.expected}, the policy gives ${r.got}${r.rule ? ` (${r.rule})` : ''}`);
      const failed = results.filter((r) => !r.pass).length;
      io.out(`${results.length - failed} passed, ${failed} failed`);
    }
    return results.every((r) => r.pass) ? 0 : 1;
  },
};

/** A sender's offline allowance (policy `edge`) for `policy why` output: absent when it has none. */
function edgeOf(policy: Policy, sender: string): { offlineMs: number; acceptedLateMs: number } | undefined {
  const offlineMs = offlineAllowanceMs(policy, sender);
  return offlineMs > 0 ? { offlineMs, acceptedLateMs: freshnessBoundMs(policy, sender) } : undefined;
}

/** `<agency> may work offline 1d: …` — what an allowance means for receivers. */
function edgeText(agency: string, e: { offlineMs: number; acceptedLateMs: number }): string {
  return `${agency} may work offline ${formatDurationMs(e.offlineMs)} (policy edge): its copies are accepted when stored up to ${formatDurationMs(e.acceptedLateMs)} after they were signed (other senders: ${formatDurationMs(REPLAY_TOLERANCE_MS)})`;
}

const policyExplain: Command = {
  path: ['policy', 'explain'],
  summary: 'who can see which fields of which type, at which tier and scope',
  usage: 'liaison policy explain POLICY [--role R] [--type T] [--json]',
  options: { role: { type: 'string' }, type: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const [p] = files(args, 1, policyExplain.usage);
    const policy = await load(p!);
    const report = explainPolicy(policy, catalog(), { ...(str(args, 'role') ? { role: str(args, 'role') } : {}), ...(str(args, 'type') ? { type: str(args, 'type') } : {}) });
    if (args.values.json) {
      io.out(JSON.stringify(report));
      return 0;
    }
    for (const t of report.types) {
      io.out(`${t.type} (${t.family}) — sent by ${t.senders.map((s) => `${s.role} [${s.agencies.join(', ')}]`).join('; ') || 'nobody'}`);
      for (const r of t.receivers) {
        io.out(`  ${r.role.padEnd(18)} ${r.scope.padEnd(9)} ${r.tier.padEnd(11)} ${r.agencies.map((a) => a.id).join(', ') || '(no agency)'}${r.shadowedBy ? `  (shadowed by ${r.shadowedBy})` : ''}`);
        io.out(`  ${''.padEnd(18)} sees ${r.fields.join(', ') || '—'}${r.hidden.length ? `; not ${r.hidden.join(', ')}` : ''}`);
      }
    }
    for (const e of report.edge ?? []) io.out(`edge: ${edgeText(e.agency, edgeOf(policy, e.agency)!)}`);
    return 0;
  },
};

const policyDiff: Command = {
  path: ['policy', 'diff'],
  summary: 'which roles and agencies gain or lose which fields of which types between two policies; with --exit-code, exit 1 when they differ (like git diff)',
  usage: 'liaison policy diff A B [--exit-code] [--json]',
  options: { json: { type: 'boolean' }, 'exit-code': { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const [a, b] = files(args, 2, policyDiff.usage);
    const d = diffPolicies(await load(a!), await load(b!), catalog());
    const code = args.values['exit-code'] === true && !d.same ? 1 : 0;
    if (args.values.json) {
      io.out(JSON.stringify(d));
      return code;
    }
    if (d.same) io.out('the two policies grant exactly the same access');
    for (const r of d.roles.added) io.out(`+ role ${r}`);
    for (const r of d.roles.removed) io.out(`- role ${r}`);
    for (const r of d.agencies.added) io.out(`+ agency ${r}`);
    for (const r of d.agencies.removed) io.out(`- agency ${r}`);
    for (const c of d.receive) {
      const move = `${c.before ?? 'nothing'} → ${c.after ?? 'nothing'}`;
      io.out(`${c.subject} ${c.name}: ${c.type} (${c.scope}) ${move}${c.gained.length ? `; gains ${c.gained.join(', ')}` : ''}${c.lost.length ? `; loses ${c.lost.join(', ')}` : ''}`);
    }
    for (const s of [...d.send, ...d.serve]) io.out(`${s.subject} ${s.name}: ${s.change === 'gained' ? 'may now' : 'may no longer'} ${d.send.includes(s) ? 'send' : 'serve'} ${s.type}`);
    return code;
  },
};

const markings = (args: ParsedArgs) => ({ handling: (str(args, 'handling') ?? 'H2') as HandlingCode, tlp: (str(args, 'tlp') ?? 'GREEN') as TlpLabel });

const policyWhy: Command = {
  path: ['policy', 'why'],
  summary: 'the decision, the deciding rule and the tier for one agency sending or receiving one type',
  usage: 'liaison policy why (POLICY [--agreement FILE --self NAME | --trust DIR] | --trust DIR) --as AGENCY (--send TYPE [--to ID|all] | --receive TYPE [--from ID] [--broadcast]) [--handling H] [--tlp T] [--json]',
  options: {
    as: { type: 'string' },
    send: { type: 'string' },
    receive: { type: 'string' },
    to: { type: 'string' },
    from: { type: 'string' },
    broadcast: { type: 'boolean' },
    handling: { type: 'string' },
    tlp: { type: 'string' },
    agreement: { type: 'string' },
    self: { type: 'string' },
    trust: { type: 'string' },
    json: { type: 'boolean' },
  },
  required: ['as'],
  allowPositionals: true,
  async run(args, io) {
    const policy = await questionPolicy(args, catalog(), policyWhy.usage, load);
    const as = need(args, 'as');
    const send = str(args, 'send');
    const receive = str(args, 'receive');
    const json = args.values.json === true;
    if (Boolean(send) === Boolean(receive)) throw new LiaisonError('ERR_USAGE', `give --send TYPE or --receive TYPE (usage: ${policyWhy.usage})`);
    // Qualified ids (`atl:xb-police`) are answered across the --agreement (or the agreements applied in --trust DIR), from this federation's side.
    const sides = await crossSides(args, policy, catalog(), policyWhy.usage, io);
    const across = sides && acrossSides(sides, args, io, crossWhy);
    if (across !== undefined) return across;
    if (send && str(args, 'to')) {
      const to = str(args, 'to')!;
      const r = reach(policy, { sender: as, type: send, recipient: to, ...markings(args) });
      const edge = edgeOf(policy, as);
      if (json) io.out(JSON.stringify({ kind: 'send', as, type: send, to, ...r.decision, copies: r.plan?.copies ?? [], skipped: r.plan?.skipped ?? [], nothing: r.nothing, ...(edge ? { edge } : {}) }));
      else {
        io.out(`${r.decision.allowed ? 'ALLOW' : 'DENY'}  ${as} sends ${send} to ${to}: ${r.decision.reason}${r.decision.rule ? `  [${r.decision.rule}]` : ''}`);
        if (edge && r.decision.allowed) io.out(`  ${edgeText(as, edge)}`);
      }
      return r.decision.allowed ? 0 : 1;
    }
    if (send) {
      // No recipient named: may it send the type at all, and whom could it reach (broadcast and directed)?
      const r = sendReach(policy, { sender: as, type: send, ...markings(args) });
      const b = r.broadcast;
      if (json) {
        io.out(
          JSON.stringify({
            kind: 'send',
            as,
            type: send,
            ...r.decision,
            broadcast: { ...b.decision, copies: b.plan?.copies ?? [], skipped: b.plan?.skipped ?? [] },
            directed: r.directed,
            undirectable: r.undirectable,
            ...(edgeOf(policy, as) ? { edge: edgeOf(policy, as) } : {}),
          }),
        );
        return r.decision.allowed ? 0 : 1;
      }
      io.out(`${r.decision.allowed ? 'ALLOW' : 'DENY'}  ${as} sends ${send}: ${r.decision.reason}${r.decision.rule ? `  [${r.decision.rule}]` : ''}`);
      if (!r.decision.allowed) return 1;
      io.out(
        b.plan
          ? `  broadcast: ${b.plan.copies.map((c) => `${c.tier}: ${c.recipients.join(', ')}`).join('; ')}`
          : `  broadcast: refused (${b.decision.code ?? 'ERR_POLICY'}): ${b.decision.reason}`,
      );
      io.out(`  directed:  ${r.directed.length ? r.directed.map((d) => `${d.agency} (${d.tier}, ${d.rule})`).join(', ') : 'to nobody'}`);
      for (const u of r.undirectable) io.out(`  not to ${u.agency}: ${u.reason}`);
      const edge = edgeOf(policy, as);
      if (edge) io.out(`  ${edgeText(as, edge)}`);
      return 0;
    }
    const from = str(args, 'from');
    const scope = args.values.broadcast ? 'broadcast' : receiveCeiling(policy, as, receive!, 'observe') ? 'observe' : 'direct';
    const ceiling = receiveCeiling(policy, as, receive!, scope);
    const answer = (allowed: boolean, text: string, extra: Record<string, unknown>) => {
      io.out(json ? JSON.stringify({ kind: 'receive', as, type: receive, scope, ...(from ? { from } : {}), allowed, ...extra }) : text);
      return allowed ? 0 : 1;
    };
    if (!ceiling) return answer(false, `DENY  ${as} receives no ${receive} (${scope}): no rule matched`, { code: 'ERR_POLICY_RECEIVE_DENIED', reason: 'no rule matched' });
    const rule = `roles.${ceiling.rule.role}.receive[${ceiling.rule.index}]`;
    if (from) {
      try {
        const g = checkReceive(policy, { receiver: as, sender: from, type: receive!, recipient: scope === 'broadcast' ? 'all' : as, tier: ceiling.tier, ...markings(args) });
        const edge = edgeOf(policy, from);
        const allow = `ALLOW  ${as} receives ${receive} from ${from} at the ${g.tier} tier  [${g.ruleName}]`;
        return answer(true, edge ? `${allow}\n  ${edgeText(from, edge)}` : allow, { tier: g.tier, rule: g.ruleName, ...(edge ? { edge } : {}) });
      } catch (err) {
        const e = asLiaisonError(err, 'ERR_POLICY_RECEIVE_DENIED');
        return answer(false, `DENY  ${e.code}: ${e.message}`, { code: e.code, reason: e.message });
      }
    }
    return answer(true, `ALLOW  ${as} receives ${receive} (${scope}) at the ${ceiling.tier} tier  [${rule}]`, { tier: ceiling.tier, rule });
  },
};

const policyRecipients: Command = {
  path: ['policy', 'recipients'],
  summary: 'exactly who would receive a message, at which tier (observers included), and why every other agency gets nothing',
  usage: 'liaison policy recipients (POLICY [--agreement FILE --self NAME | --trust DIR] | --trust DIR) --from AGENCY --type TYPE [--to ID] [--handling H] [--tlp T] [--json]',
  options: {
    from: { type: 'string' },
    type: { type: 'string' },
    to: { type: 'string' },
    handling: { type: 'string' },
    tlp: { type: 'string' },
    agreement: { type: 'string' },
    self: { type: 'string' },
    trust: { type: 'string' },
    json: { type: 'boolean' },
  },
  required: ['from', 'type'],
  allowPositionals: true,
  async run(args, io) {
    const policy = await questionPolicy(args, catalog(), policyRecipients.usage, load);
    // A qualified --from or --to (`atl:xb-police`) is answered across the --agreement (or those applied in --trust DIR), from this federation's side.
    const sides = await crossSides(args, policy, catalog(), policyRecipients.usage, io);
    const across = sides && acrossSides(sides, args, io, crossRecipients);
    if (across !== undefined) return across;
    const r = reach(policy, { sender: need(args, 'from'), type: need(args, 'type'), recipient: str(args, 'to') ?? 'all', ...markings(args) });
    const { decision: d, plan } = r;
    if (args.values.json) {
      io.out(JSON.stringify({ allowed: d.allowed, rule: d.rule, code: d.code, reason: d.reason, copies: plan?.copies ?? [], skipped: plan?.skipped ?? [], nothing: r.nothing }));
      return d.allowed ? 0 : 1;
    }
    if (!plan) {
      io.out(`refused (${d.code}): ${d.reason}`);
      return 1;
    }
    for (const c of plan.copies) io.out(`${c.tier.padEnd(12)} ${c.recipients.join(', ')}`);
    for (const s of plan.skipped) io.out(`skipped      ${s.agency}: ${s.reason}`);
    for (const n of r.nothing) io.out(`nothing      ${n.agency}: ${n.reason}`);
    io.out(`(${plan.rule} allows sending it; one signed copy per tier)`);
    return 0;
  },
};

export const POLICY_TOOL_COMMANDS: readonly Command[] = [policyTest, policyExplain, policyDiff, policyWhy, policyRecipients];
