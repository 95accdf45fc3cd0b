import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSignedAgreement } from '../services/bridge/agreement/file.ts';
import { signAgreement } from '../services/bridge/agreement/sign.ts';
import { runCli } from '../services/cli/main.ts';
import { appliedAgreementFile } from '../services/trust/applied-agreements.ts';
import { initFederation, openFederation } from '../services/trust/federation.ts';
import { trustPaths } from '../services/trust/paths.ts';

/**
 * `liaison policy why|recipients --trust DIR` (issue 17): qualified ids answered across the agreements applied on
 * that exchange (TRUST_DIR/bridges/<id>/agreement.signed.json, as `bridge apply` stores them), each verified again
 * against both roots; under the policy the federation's root signed unless a POLICY file is named. Three real trust
 * directories (med, atl, pac), no server: the applied files are written where `bridge apply` writes them.
 */

const ROOT = join(import.meta.dirname, '..');
const POLICY = join(ROOT, 'deploy/policies/federation.yaml');
const EXAMPLE = join(ROOT, 'deploy/agreements/med-atl.yaml');
let dir: string;
let med: string;
let atl: string;
let pac: string;
let medAtl: { text: string; signatures: Record<string, string> };

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise<void>(() => undefined) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const rootX = async (trust: string) => (JSON.parse(await readFile(trustPaths(trust).rootPub, 'utf8')) as { x: string }).x;

/** `text` signed by the roots of `trusts`. */
async function signed(text: string, trusts: string[]): Promise<{ text: string; signatures: Record<string, string> }> {
  const signatures: Record<string, string> = {};
  for (const t of trusts) {
    const f = await openFederation(t);
    signatures[f.name] = await signAgreement(text, f.root);
  }
  return { text, signatures };
}

/** Store `doc` as applied agreement `id` of `trust`, where `bridge apply` keeps it. */
async function applied(trust: string, id: string, doc: { text: string; signatures: Record<string, string> }): Promise<void> {
  const file = appliedAgreementFile(trust, id);
  await mkdir(dirname(file), { recursive: true });
  await writeSignedAgreement(file, doc);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'liaison-policy-trust-'));
  const policyText = await readFile(POLICY, 'utf8');
  [med, atl, pac] = await Promise.all(['med', 'atl', 'pac'].map(async (name) => (await initFederation({ dir: join(dir, name), policyText, federationName: name })).dir));
  const example = await readFile(EXAMPLE, 'utf8');
  const placeholders = [...example.matchAll(/x: ([A-Za-z0-9_-]{43})/g)].map((m) => m[1]!);
  const text = example.replace(placeholders[0]!, await rootX(med)).replace(placeholders[1]!, await rootX(atl));
  medAtl = await signed(text, [med, atl]);
  await applied(med, 'med-atl', medAtl);
  await applied(atl, 'med-atl', medAtl);
  // An agreement with pac that has expired: applied once, no longer in force.
  const pacText = [
    'version: 1',
    'id: med-pac',
    'federations:',
    `  - { name: med, root: { kty: OKP, crv: Ed25519, x: ${await rootX(med)} } }`,
    `  - { name: pac, root: { kty: OKP, crv: Ed25519, x: ${await rootX(pac)} } }`,
    'expires: 2021-01-01T00:00:00Z',
    'flows:',
    '  - { from: med:xa-border-police, to: pac:xb-police, types: [IntelligenceReport], tier: personal }',
    '',
  ].join('\n');
  await applied(med, 'med-pac', await signed(pacText, [med, pac]));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('liaison policy why|recipients --trust DIR: the agreements applied on that exchange', () => {
  it('why: a qualified id is answered by the applied agreement, under the directory’s policy or a named POLICY', async () => {
    const ask = ['--as', 'xa-border-police', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police'];
    let r = await cli(['policy', 'why', '--trust', med, ...ask]);
    expect(r.out).toBe('ALLOW  xa-border-police receives IntelligenceReport from atl:xb-police at the personal tier  [agreement med-atl flows[1]]');
    expect(r.code).toBe(0);
    r = await cli(['policy', 'why', POLICY, '--trust', med, ...ask]);
    expect(r.out).toBe('ALLOW  xa-border-police receives IntelligenceReport from atl:xb-police at the personal tier  [agreement med-atl flows[1]]');
    // A pair no flow names is denied by the agreement, not by the policy.
    r = await cli(['policy', 'why', '--trust', med, '--as', 'xa-prosecutor', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY  ERR_POLICY_RECEIVE_DENIED: xa-prosecutor may not receive IntelligenceReport from atl:xb-police under agreement med-atl');
    // Local ids are still the policy's own answer.
    r = await cli(['policy', 'why', '--trust', med, '--as', 'xa-coast-guard', '--send', 'CaseReferral', '--to', 'xa-ngo-harbour']);
    expect(r.out).toMatch(/^ALLOW {2}xa-coast-guard sends CaseReferral to xa-ngo-harbour: roles\.coast-guard\.send/);
  });

  it('recipients: what a foreign sender reaches on this exchange, from the other side too', async () => {
    const r = await cli(['policy', 'recipients', '--trust', atl, '--from', 'med:xa-border-police', '--type', 'JointInvestigationProposal']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('operational  xb-police  [agreement med-atl flows[0]]');
    const out = await cli(['policy', 'recipients', '--trust', med, '--from', 'xa-coast-guard', '--type', 'CaseReferral', '--to', 'atl:xb-police', '--json']);
    expect(JSON.parse(out.out)).toMatchObject({ allowed: true, agreement: 'med-atl', rule: 'agreement med-atl flows[3]' });
  });

  it('an expired or tampered applied agreement is left out (said on stderr): its peer is then denied', async () => {
    let r = await cli(['policy', 'why', '--trust', med, '--as', 'xa-border-police', '--send', 'IntelligenceReport', '--to', 'pac:xb-police']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('DENY  ERR_POLICY_SEND_DENIED: no agreement with pac is applied (applied: with atl)');
    expect(r.err).toMatch(/left out: agreement med-pac: .*expired/);
    // atl's applied copy altered (one flow's tier raised) under the old signatures: no longer an agreement.
    const file = appliedAgreementFile(atl, 'med-atl');
    const original = await readFile(file, 'utf8');
    try {
      const doc = JSON.parse(original) as { text: string; signatures: Record<string, string> };
      await writeFile(file, JSON.stringify({ ...doc, text: doc.text.replace('tier: operational', 'tier: special') }));
      r = await cli(['policy', 'recipients', '--trust', atl, '--from', 'med:xa-border-police', '--type', 'JointInvestigationProposal', '--json']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out)).toMatchObject({ allowed: false, code: 'ERR_POLICY_RECEIVE_DENIED', reason: 'no agreement with med is applied' });
      expect(r.err).toMatch(/left out: agreement med-atl: /);
    } finally {
      await writeFile(file, original);
    }
  });

  it('revoked (the applied file gone): the qualified id is denied; --trust with --agreement, or no policy at all, is a usage error', async () => {
    await unlink(appliedAgreementFile(med, 'med-atl'));
    try {
      const r = await cli(['policy', 'why', '--trust', med, '--as', 'xa-border-police', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police']);
      expect(r.code).toBe(1);
      expect(r.out).toBe('DENY  ERR_POLICY_RECEIVE_DENIED: no agreement with atl is applied');
    } finally {
      await applied(med, 'med-atl', medAtl);
    }
    expect((await cli(['policy', 'why', POLICY, '--trust', med, '--agreement', EXAMPLE, '--as', 'xa-border-police', '--receive', 'IntelligenceReport', '--from', 'atl:xb-police'])).code).toBe(2);
    expect((await cli(['policy', 'recipients', '--from', 'atl:xb-police', '--type', 'IntelligenceReport'])).code).toBe(2);
  });
});
