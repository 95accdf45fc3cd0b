import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { fieldCatalogOf } from '../services/sdk/policy/access.ts';
import { diffPolicies } from '../services/sdk/policy/diff.ts';
import { compileConsumers, compilePermissions, decideSend, loadPolicyFile, receiveCeiling, sendableTypes } from '../services/sdk/policy/index.ts';
import { reach } from '../services/sdk/policy/reach.ts';
import { subjectMatches } from '../services/sdk/policy/subject-match.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';

const TESTS = join(import.meta.dirname, '../deploy/policies/federation.tests.yaml');
const catalog = fieldCatalogOf(loadCatalog());

async function cli(argv: string[]) {
  const out: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => out.push(l), interrupted: new Promise<void>(() => undefined) });
  return { code, text: out.join('\n') };
}

describe('policy as code: test, explain, diff, why, recipients', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-policy-tools-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('policy test: the example tests pass (exit 0); a failing case prints what was expected and what the policy gives (exit 1)', async () => {
    const good = await cli(['policy', 'test', EXAMPLE_POLICY, TESTS]);
    expect(good.code).toBe(0);
    expect(good.text).toMatch(/23 passed, 0 failed/);
    const bad = join(dir, 'bad.tests.yaml');
    await writeFile(bad, `cases:
  - name: wrongly expects the NGO to see special
    as: xa-ngo-harbour
    receive: CaseReferral
    expect: { tier: special }
  - name: wrongly expects the NGO may send intelligence
    as: xa-ngo-harbour
    send: IntelligenceReport
    expect: allow
  - name: the NGO receives referrals
    role: ngo
    receive: CaseReferral
    expect: allow
`);
    const r = await cli(['policy', 'test', EXAMPLE_POLICY, bad]);
    expect(r.code).toBe(1);
    expect(r.text).toContain('FAIL  wrongly expects the NGO to see special\n      expected allow at special, the policy gives allow at personal (roles.ngo.receive[0])');
    expect(r.text).toContain('expected allow, the policy gives deny (ERR_POLICY_SEND_DENIED)');
    expect(r.text).toContain('ok    the NGO receives referrals');
    expect(r.text).toContain('1 passed, 2 failed');
    await writeFile(bad, 'cases:\n  - as: xa-ngo-harbour\n    expect: sometimes\n');
    const invalid = await cli(['policy', 'test', EXAMPLE_POLICY, bad]);
    // A file that does not load is a usage error (exit 2), never a run of its other cases.
    expect(invalid.code).toBe(2);
    // Every problem, located by file, line and column.
    expect(invalid.text).toContain(`${bad}:2:5 cases[0]: give exactly one of send: TYPE or receive: TYPE`);
    expect(invalid.text).toContain(`${bad}:3:13 cases[0].expect: expected allow, deny`);
  });

  it('policy diff: a variant that lifts the NGO to special for referrals and drops training offers gives exactly those gains and losses', async () => {
    const text = await readFile(EXAMPLE_POLICY, 'utf8');
    const ngoRule = "      - types: [CaseReferral, ReferralAcknowledgement, ReferralDecision, ReferralUpdate, ReferralClosure]\n        tier: personal\n        scope: direct\n        tlp: [CLEAR, GREEN, AMBER, AMBER+STRICT]\n      - types: [StrategicReport, TrainingOffer]";
    expect(text).toContain(ngoRule);
    const variant = text.replace(
      ngoRule,
      "      - types: [CaseReferral]\n        tier: special\n        scope: direct\n      - types: [ReferralAcknowledgement, ReferralDecision, ReferralUpdate, ReferralClosure]\n        tier: personal\n        scope: direct\n        tlp: [CLEAR, GREEN, AMBER, AMBER+STRICT]\n      - types: [StrategicReport]",
    );
    const file = join(dir, 'variant.yaml');
    await writeFile(file, variant);
    const d = diffPolicies(await loadPolicyFile(EXAMPLE_POLICY, catalog), await loadPolicyFile(file, catalog), catalog);
    const ngo = d.receive.filter((c) => c.subject === 'role' && c.name === 'ngo');
    const referral = ngo.find((c) => c.type === 'CaseReferral' && c.scope === 'direct')!;
    expect([referral.before, referral.after]).toEqual(['personal', 'special']);
    expect(referral.gained).toEqual(expect.arrayContaining(['criminalIntelligence', 'suspectedOffences']));
    const offer = ngo.find((c) => c.type === 'TrainingOffer')!;
    expect([offer.before, offer.after]).toEqual(['public', undefined]);
    expect(offer.lost).toContain('courseCode');
    expect(ngo.map((c) => c.type).sort()).toEqual(['CaseReferral', 'TrainingOffer']);
    const out = await cli(['policy', 'diff', EXAMPLE_POLICY, file]);
    expect(out.text).toContain('role ngo: CaseReferral (direct) personal → special; gains');
    expect(out.text).toContain('agency xa-ngo-harbour: TrainingOffer (broadcast) public → nothing; loses');
  });

  it('policy explain: who sees which fields of a type at which tier', async () => {
    const r = await cli(['policy', 'explain', EXAMPLE_POLICY, '--type', 'CaseReferral']);
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/ngo +direct +personal +xa-ngo-harbour/);
    expect(r.text).toMatch(/prosecutor +direct +special +xa-prosecutor, xb-prosecutor/);
    expect(r.text).toMatch(/case-registry +observe +personal +mac-cases/);
    expect(r.text).toContain('not ');
  });

  it('why and recipients agree with the compiled broker artefacts over every (agency, type) pair of the example policy', async () => {
    const policy = await loadPolicyFile(EXAMPLE_POLICY, catalog);
    const consumers = compileConsumers(policy, catalog);
    const agencies = Object.keys(policy.agencies);
    let checked = 0;
    for (const sender of agencies) {
      const pub = compilePermissions(policy, sender, catalog).pub.allow;
      for (const type of catalog.types()) {
        const family = catalog.familyOf(type)!;
        for (const to of ['all', ...agencies.filter((a) => a !== sender)]) {
          const r = reach(policy, { sender, type, recipient: to, handling: 'H2', tlp: 'GREEN' });
          const plan = r.plan;
          // Allowed to send ⇔ the broker lets the sender publish the subject (when a copy exists at all).
          if (plan) {
            const receivers = new Map<string, string>();
            for (const c of plan.copies) {
              const subject = `liaison.v1.${c.tier}.${family}.${type}.${sender}.${to}`;
              expect(pub.some((p) => subjectMatches(p, subject)), `${sender} may publish ${subject}`).toBe(true);
              for (const r of c.recipients) receivers.set(r, c.tier);
            }
            // Exactly the planned recipients have a consumer covering their copy's subject; nobody else covers any tier.
            for (const a of agencies) {
              if (a === sender) continue;
              const covers = ['public', 'operational', 'personal', 'special'].filter((tier) =>
                consumers.some((c) => c.agency === a && c.replica === 1 && subjectMatches(c.filterSubject, `liaison.v1.${tier}.${family}.${type}.${sender}.${to}`)),
              );
              if (receivers.has(a)) expect(covers, `${a} receives ${type} from ${sender} to ${to}`).toEqual([receivers.get(a)]);
              else if (to === 'all' || to === a || receiveCeiling(policy, a, type, 'observe')) expect(covers, `${a} must not receive ${type} from ${sender} to ${to}`).toEqual([]);
              // recipients names every agency: in a copy, skipped for its markings, or receiving nothing with the reason.
              const named = [...receivers.keys(), ...plan.skipped.map((x) => x.agency), ...r.nothing.map((x) => x.agency)];
              expect(named.filter((x) => x === a), `${a} named once for ${type} from ${sender} to ${to}`).toHaveLength(1);
              if (r.nothing.some((x) => x.agency === a)) expect(covers, `${a} gets nothing of ${type} from ${sender} to ${to}`).toEqual([]);
            }
            checked++;
          } else if (!sendableTypes(policy, sender).includes(type)) {
            expect(pub.some((p) => subjectMatches(p, `liaison.v1.public.${family}.${type}.${sender}.${to}`))).toBe(false);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    const why = await cli(['policy', 'why', EXAMPLE_POLICY, '--as', 'xa-ngo-harbour', '--receive', 'CaseReferral', '--from', 'xa-border-police']);
    expect(why.text).toBe('ALLOW  xa-ngo-harbour receives CaseReferral from xa-border-police at the personal tier  [roles.ngo.receive[0]]');
    const denied = await cli(['policy', 'why', EXAMPLE_POLICY, '--as', 'xa-ngo-harbour', '--send', 'IntelligenceReport']);
    expect(denied.code).toBe(1);
    expect(denied.text).toContain('DENY');
    const rec = await cli(['policy', 'recipients', EXAMPLE_POLICY, '--from', 'xa-border-police', '--type', 'CaseReferral', '--to', 'xa-prosecutor']);
    expect(rec.text).toContain('personal     mac-cases');
    expect(rec.text).toContain('special      xa-prosecutor');
    expect(rec.text).toContain('nothing      xb-police: the message is directed to xa-prosecutor; it observes no CaseReferral');

    // why --send without --to: may it send at all, the broadcast plan, and each agency a directed copy may (not) go to.
    const wide = await cli(['policy', 'why', EXAMPLE_POLICY, '--as', 'xa-border-police', '--send', 'CaseReferral', '--json']);
    expect(wide.code).toBe(0);
    const answer = JSON.parse(wide.text) as { allowed: boolean; broadcast: { allowed: boolean; code: string }; directed: { agency: string; tier: string }[]; undirectable: { agency: string }[] };
    expect(answer.broadcast).toMatchObject({ allowed: false, code: 'ERR_POLICY_NO_RECIPIENT' });
    expect(answer.directed).toContainEqual(expect.objectContaining({ agency: 'xa-prosecutor', tier: 'special' }));
    expect(answer.directed).toContainEqual(expect.objectContaining({ agency: 'xa-ngo-harbour', tier: 'personal' }));
    expect(answer.undirectable.map((u) => u.agency)).toContain('xa-coast-guard');
    for (const d of answer.directed) {
      expect(decideSend(policy, { sender: 'xa-border-police', type: 'CaseReferral', recipient: d.agency, handling: 'H2', tlp: 'GREEN' }).allowed).toBe(true);
    }
    const receiveJson = JSON.parse((await cli(['policy', 'why', EXAMPLE_POLICY, '--as', 'xa-ngo-harbour', '--receive', 'CaseReferral', '--from', 'xa-border-police', '--json'])).text);
    expect(receiveJson).toMatchObject({ allowed: true, tier: 'personal', rule: 'roles.ngo.receive[0]' });
  });
});
