import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { initFederation } from '../services/trust/federation.ts';
import { trustPaths } from '../services/trust/paths.ts';

/**
 * `liaison bridge agreement check|sign|verify|explain` and the policy tools across an agreement (issue 17):
 * two real trust directories (med, atl) sign one text; verification needs both; the tools answer for qualified ids.
 */

const ROOT = join(import.meta.dirname, '..');
const POLICY = join(ROOT, 'deploy/policies/federation.yaml');
const EXAMPLE = join(ROOT, 'deploy/agreements/med-atl.yaml');
let dir: string;
let med: string;
let atl: string;
let pac: string;
let agreement: string;

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => out.push(l), interrupted: new Promise<void>(() => undefined) });
  return { code, out: out.join('\n') };
}

const rootX = async (trust: string) => (JSON.parse(await readFile(trustPaths(trust).rootPub, 'utf8')) as { x: string }).x;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'liaison-agreement-cli-'));
  const policyText = await readFile(POLICY, 'utf8');
  [med, atl, pac] = await Promise.all(
    ['med', 'atl', 'pac'].map(async (name) => (await initFederation({ dir: join(dir, name), policyText, federationName: name })).dir),
  );
  // The example agreement with the two real roots put in, as its header says.
  const example = await readFile(EXAMPLE, 'utf8');
  const placeholders = [...example.matchAll(/x: ([A-Za-z0-9_-]{43})/g)].map((m) => m[1]!);
  expect(placeholders).toHaveLength(2);
  agreement = join(dir, 'med-atl.yaml');
  await writeFile(agreement, example.replace(placeholders[0]!, await rootX(med)).replace(placeholders[1]!, await rootX(atl)));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('liaison bridge agreement', () => {
  it('check: the example agreement is valid and both sides honour every flow under the example policy', async () => {
    const r = await cli(['bridge', 'agreement', 'check', EXAMPLE, '--policy', POLICY]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok {2}agreement med-atl between med and atl, 6 flows/);
    expect(r.out).toContain('med under policy mediterranean-pilot: 6 outbound, 5 inbound route(s); 0 left out');
    expect(r.out).toContain('atl under policy mediterranean-pilot: 5 outbound, 6 inbound route(s); 0 left out');
  });

  it('check: a flow a side cannot honour exits 1 naming it; an invalid file exits 1 with its location; no file exits 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, (await readFile(agreement, 'utf8')).replace('types: [MutualLegalAssistanceRequest]', 'types: [MutualLegalAssistanceRequest, PersonAlert]'));
    const r = await cli(['bridge', 'agreement', 'check', bad, '--policy', POLICY, '--self', 'atl']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('issue: agreement med-atl flows[4] (med:xa-prosecutor → atl:xb-prosecutor, PersonAlert): xb-prosecutor receives no PersonAlert directed');
    await writeFile(bad, (await readFile(agreement, 'utf8')).replace('tier: special', 'tier: secret'));
    const inv = await cli(['bridge', 'agreement', 'check', bad]);
    expect(inv.code).toBe(1);
    expect(inv.out).toMatch(/ERR_AGREEMENT_INVALID: .*bad\.yaml:\d+:\d+ flows\[4\]\.tier: invalid tier "secret"/);
    expect((await cli(['bridge', 'agreement', 'check'])).code).toBe(2);
    expect((await cli(['bridge', 'agreement', 'check', bad, '--self', 'med'])).code).toBe(2);
  });

  it('sign and verify: one root is not enough; both roots verify on both sides; a changed text or a third root is refused', async () => {
    const signed = `${agreement}.signed.json`;
    let r = await cli(['bridge', 'agreement', 'sign', agreement, '--trust', med]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`signed agreement med-atl as med → ${signed} (still needs the signature of atl)`);
    r = await cli(['bridge', 'agreement', 'verify', signed, '--trust', med]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("ERR_AGREEMENT_INVALID: agreement med-atl lacks the signature of atl's root");
    r = await cli(['bridge', 'agreement', 'sign', signed, '--trust', atl]);
    expect(r.out).toContain(`signed agreement med-atl as atl → ${signed} (signed by both roots)`);
    for (const trust of [med, atl]) {
      r = await cli(['bridge', 'agreement', 'verify', signed, '--trust', trust]);
      expect(r.out).toContain('verified agreement med-atl between med and atl');
      expect(r.code).toBe(0);
    }
    // A third federation's root neither signs nor verifies it.
    r = await cli(['bridge', 'agreement', 'sign', agreement, '--trust', pac, '--out', join(dir, 'pac.json')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("does not name pac's root key for pac");
    expect((await cli(['bridge', 'agreement', 'verify', signed, '--trust', pac])).out).toContain('not pac');
    // One flow added under the same signatures.
    const doc = JSON.parse(await readFile(signed, 'utf8')) as { text: string; signatures: Record<string, string> };
    const tampered = join(dir, 'tampered.json');
    await writeFile(tampered, JSON.stringify({ ...doc, text: `${doc.text}  - { from: atl:xb-police, to: med:xa-prosecutor, types: [IntelligenceReport], tier: personal }\n` }));
    r = await cli(['bridge', 'agreement', 'verify', tampered, '--trust', med]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('is over another text');
    expect((await cli(['bridge', 'agreement', 'verify', signed])).code).toBe(2);
  });

  it('explain: both directions as a table, from a trust directory (signatures verified) or a policy and --self', async () => {
    await cli(['bridge', 'agreement', 'sign', agreement, '--trust', med, '--out', join(dir, 'x.json')]);
    await cli(['bridge', 'agreement', 'sign', join(dir, 'x.json'), '--trust', atl]);
    const r = await cli(['bridge', 'agreement', 'explain', join(dir, 'x.json'), '--trust', atl]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('; signatures verified');
    expect(r.out).toContain('outbound (atl → med):');
    expect(r.out).toMatch(/\n {2}xb-police +med:xa-coast-guard +IntelligenceReport +public, operational +flows\[2\]/);
    expect(r.out).toContain('inbound (med → atl):');
    expect(r.out).toMatch(/\n {2}med:xa-border-police +xb-police +JointInvestigationProposal +operational +flows\[0\]/);
    expect(r.out).toContain("note:  agreement med-atl flows[0] (med:xa-border-police → atl:xb-police, JointInvestigationProposal): capped at the operational tier");
    const p = await cli(['bridge', 'agreement', 'explain', EXAMPLE, '--policy', POLICY, '--self', 'med', '--json']);
    const j = JSON.parse(p.out) as { inbound: { sender: string; recipient: string; tier: string }[]; verified: boolean };
    expect(j.verified).toBe(false);
    expect(j.inbound.map((x) => `${x.sender}>${x.recipient}@${x.tier}`)).toContain('atl:xb-prosecutor>xa-prosecutor@special');
    expect((await cli(['bridge', 'agreement', 'explain', EXAMPLE, '--policy', POLICY])).code).toBe(2);
    // With the peer's policy, each outbound copy is sealed once, at the peer recipient's own tier.
    const exact = await cli(['bridge', 'agreement', 'explain', EXAMPLE, '--policy', POLICY, '--self', 'atl', '--peer-policy', POLICY]);
    expect(exact.out).toMatch(/\n {2}xb-police +med:xa-coast-guard +IntelligenceReport +operational +flows\[2\]/);
    expect(exact.out).toMatch(/\n {2}xb-police +med:xa-border-police +JointInvestigationProposal +operational +flows\[1\]/);
  });
});

describe('liaison policy why|recipients --agreement FILE --self NAME', () => {
  const A = () => ['--agreement', EXAMPLE, '--self', 'med'];

  it('why: a qualified recipient or sender is answered by the agreement, naming the flow; a pair no flow names is denied', async () => {
    let r = await cli(['policy', 'why', POLICY, '--as', 'xa-border-police', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police', ...A()]);
    expect(r).toEqual({ code: 0, out: 'ALLOW  xa-border-police receives IntelligenceReport from atl:xb-police at the personal tier  [agreement med-atl flows[1]]' });
    r = await cli(['policy', 'why', POLICY, '--as', 'xa-prosecutor', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police', ...A()]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY  ERR_POLICY_RECEIVE_DENIED: xa-prosecutor may not receive IntelligenceReport from atl:xb-police under agreement med-atl');
    r = await cli(['policy', 'why', POLICY, '--as', 'xa-coast-guard', '--send', 'CaseReferral', '--to', 'atl:xb-police', ...A(), '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ allowed: true, rule: 'agreement med-atl flows[3]', tiers: ['public', 'operational', 'personal'] });
    r = await cli(['policy', 'why', POLICY, '--as', 'xa-coast-guard', '--send', 'CaseReferral', '--to', 'atl:xb-prosecutor', ...A()]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY  ERR_POLICY_SEND_DENIED');
    // Local ids are still the policy's own answer.
    r = await cli(['policy', 'why', POLICY, '--as', 'xa-coast-guard', '--send', 'CaseReferral', '--to', 'xa-ngo-harbour', ...A()]);
    expect(r.out).toMatch(/^ALLOW {2}xa-coast-guard sends CaseReferral to xa-ngo-harbour: roles\.coast-guard\.send/);
    expect((await cli(['policy', 'why', POLICY, '--as', 'xa-coast-guard', '--send', 'CaseReferral', '--to', 'atl:xb-police', '--agreement', EXAMPLE])).code).toBe(2);
  });

  it('recipients: the local agencies a foreign sender reaches, at their tiers; a local sender\'s copies to a foreign recipient', async () => {
    let r = await cli(['policy', 'recipients', POLICY, '--from', 'atl:xb-police', '--type', 'IntelligenceReport', ...A()]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').slice(0, 2)).toEqual(['personal     xa-border-police  [agreement med-atl flows[1]]', 'operational  xa-coast-guard  [agreement med-atl flows[2]]']);
    r = await cli(['policy', 'recipients', POLICY, '--from', 'atl:xb-police', '--type', 'CaseReferral', ...A()]);
    expect(r.code).toBe(1);
    r = await cli(['policy', 'recipients', POLICY, '--from', 'xa-prosecutor', '--type', 'MutualLegalAssistanceRequest', '--to', 'atl:xb-prosecutor', ...A(), '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ allowed: true, copies: [{ tier: 'public' }, { tier: 'operational' }, { tier: 'personal' }, { tier: 'special' }] });
  });
});
