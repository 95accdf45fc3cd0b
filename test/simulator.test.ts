import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { parseScenario } from '../services/simulator/scenario.ts';
import { resolveTemplate } from '../services/simulator/template.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';

const SMALL = (policy: string) => `
version: 1
name: small
title: A small scenario
policy: ${policy}
timeline:
  - at: 0m
    title: the coast guard shares vessel intelligence
    send: { from: xa-coast-guard, type: IntelligenceReport, to: all, tlp: AMBER, name: intel }
    body: { summary: Vessel sighted, vessel: { name: STELLA MARIS II, imoNumber: IMO9123456 } }
    expect:
      tiers: { mac-centre: operational, xa-border-police: personal }
      notSeen: [xa-ngo-harbour]
  - at: 1h
    title: the border police refers a migrant to the NGO
    send: { from: xa-border-police, type: CaseReferral, to: xa-ngo-harbour, name: ref }
    body: { kind: REFERRAL_KIND_PROTECTION, summary: needs shelter, consentRecorded: true, criminalIntelligence: named the organiser }
    expect: { withheld: { xa-ngo-harbour: [criminalIntelligence] }, caseState: referred }
  - send: { from: xa-ngo-harbour, type: ReferralDecision, to: xa-border-police }
    body: { referralId: "\${ref}", decision: REFERRAL_DECISION_KIND_ACCEPTED }
    expect: { caseState: accepted }
`;

function thrown(f: () => unknown) {
  try {
    f();
  } catch (err) {
    if (isLiaisonError(err)) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('scenario files', () => {
  it('parses events, times and expectations; refers to earlier messages by name', () => {
    const s = parseScenario(SMALL(EXAMPLE_POLICY), '/tmp/s.yaml');
    expect(s.events.map((e) => [e.kind, e.at])).toEqual([
      ['send', 0],
      ['send', 3_600_000],
      ['send', 3_600_000],
    ]);
    const names = new Map([['ref', '0192aaaa-0000-7000-8000-000000000001']]);
    expect(resolveTemplate({ referralId: '${ref}', at: '${now+1d}' }, names, Date.UTC(2026, 0, 1))).toEqual({
      referralId: '0192aaaa-0000-7000-8000-000000000001',
      at: '2026-01-02T00:00:00.000Z',
    });
    expect(thrown(() => resolveTemplate('${nobody}', names, 0)).message).toContain('no earlier message was sent under that name');
  });

  it('refuses an invalid scenario with every problem named by its path', () => {
    const bad = `version: 2
name: bad
policy: p.yaml
timeline:
  - at: 2h
    send: { type: DocumentReport }
  - at: 1h
    note: back in time
  - send: { from: a, type: T }
    check-document: { from: a, country: XAA, number: "1" }
  - send: { from: a, type: T, tlp: PURPLE }
`;
    const err = thrown(() => parseScenario(bad, 'bad.yaml'));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    const all = (err.details.errors as string[]).join('\n');
    expect(all).toContain('version: unsupported version 2');
    expect(all).toContain('timeline[0].send.from: required');
    expect(all).toContain('timeline[1].at: goes back in time');
    expect(all).toContain('timeline[2]: expected exactly one of');
    expect(all).toContain('timeline[3].send.tlp: expected one of');
    expect(err.message).toContain('bad.yaml: invalid scenario');
  });
});

describe('liaison simulate: a scenario against a real exchange, a report, and what-if under a second policy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-sim-test-'));
    await writeFile(join(dir, 'small.yaml'), SMALL(EXAMPLE_POLICY));
    // A stricter agreement: the multiagency centre no longer receives intelligence broadcasts.
    const policy = await readFile(EXAMPLE_POLICY, 'utf8');
    const strict = policy.replace(
      '      - types: [DocumentReport, DocumentStatusChange, PersonAlert, IntelligenceReport]',
      '      - types: [DocumentReport, DocumentStatusChange, PersonAlert]',
    );
    expect(strict).not.toBe(policy);
    await writeFile(join(dir, 'strict.yaml'), strict);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('plays the scenario, writes a self-contained HTML report, and names what changes under the second policy', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    const report = join(dir, 'report.html');
    const code = await runCli(['simulate', join(dir, 'small.yaml'), '--report', report, '--compare-policy', join(dir, 'strict.yaml')], io);
    const text = out.join('\n');
    // Under the example policy every expectation held, but the strict draft breaks one: exit 1, said before the details.
    expect(code).toBe(1);
    expect(text).toContain('All expectations held.');
    const verdict = text.indexOf(`FAIL: ${join(dir, 'strict.yaml')} breaks 1 expectation(s) that hold under`);
    expect(verdict).toBeGreaterThan(-1);
    expect(verdict).toBeLessThan(text.indexOf('What changes from'));
    expect(text).toContain('mac-centre no longer sees IntelligenceReport (was operational tier)');
    expect(text).toContain('expectation that fails only under the second policy: mac-centre should see IntelligenceReport at the operational tier');
    const html = await readFile(report, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(html).toContain('Who saw what');
    expect(html).toContain('case-referral');
    // Issue 18: the draft's verdict first (before the run's own outcome), agencies by name, the withheld fields named, no local path.
    expect(html.indexOf('FAIL: strict.yaml breaks 1 expectation(s)')).toBeGreaterThan(-1);
    expect(html.indexOf('FAIL: strict.yaml breaks 1 expectation(s)')).toBeLessThan(html.indexOf('All expectations held under'));
    expect(html).toMatch(/<td>Mediterranean Multiagency Centre<\/td><td>IntelligenceReport<\/td><td><span class="tier t-operational">operational<\/span><\/td><td><span class="muted">—<\/span><\/td><td><span class="loss">no longer sees it<\/span>/);
    expect(html).toContain('withheld: criminalIntelligence');
    expect(html).not.toContain(dir);
  }, 300_000); // two scenario runs (the second under the draft) on a shared 2-core machine

  it('exits non-zero when an expectation fails', async () => {
    const failing = SMALL(EXAMPLE_POLICY).replace('mac-centre: operational', 'mac-centre: personal');
    await writeFile(join(dir, 'failing.yaml'), failing);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    expect(await runCli(['simulate', join(dir, 'failing.yaml'), '--quiet'], io)).toBe(1);
    expect(out.join('\n')).toContain('mac-centre should see IntelligenceReport at the personal tier');
  }, 120_000);
});
