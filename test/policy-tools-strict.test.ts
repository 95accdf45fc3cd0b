import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_POLICY } from './support/federation.ts';
import { runBin } from './support/liaison-bin.ts';

/**
 * Policy tools that cannot pass by mistake (issue 14), run through the real `liaison` binary: a test file naming what
 * the policy or the catalogue does not have is a load error (exit 2, FILE:LINE:COL, did you mean), never a case that
 * "passes" because a misspelt name is denied everything; `policy diff --exit-code` fails when the policies differ;
 * `explain --role R` names every sender of a type, not only R.
 */
describe('policy tools that cannot pass by mistake', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-policy-strict-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a misspelt type with `expect: deny` is a load error at FILE:LINE:COL with a did-you-mean, exit 2, no case run', async () => {
    const file = join(dir, 'typo.tests.yaml');
    await writeFile(file, 'cases:\n  - name: the NGO never receives intelligence\n    role: ngo\n    receive: IntelligenceReprot\n    scope: broadcast\n    expect: deny\n');
    const r = await runBin(['policy', 'test', EXAMPLE_POLICY, file]);
    expect(r.code).toBe(2);
    expect(r.out).not.toMatch(/^ok/m);
    expect(r.err).toContain(`${file}:4:14 cases[0].receive: unknown message type "IntelligenceReprot"`);
    expect(r.err).toContain('did you mean "IntelligenceReport"?');
  }, 30_000);

  it('unknown agencies, roles, senders, recipients, tiers, scopes and codes are each named where they are, all in one run', async () => {
    const file = join(dir, 'names.tests.yaml');
    await writeFile(
      file,
      [
        'cases:',
        '  - as: xa-ngo-harbor', // 2: agency
        '    receive: CaseReferral',
        '    expect: { tier: personal }',
        '  - role: ngoo', // 5: role
        '    receive: CaseReferral',
        '    expect: allow',
        '  - as: xa-ngo-harbour',
        '    receive: CaseReferral',
        '    from: xa-polise', // 10: sender
        '    expect: allow',
        '  - as: xa-border-police',
        '    send: CaseReferral',
        '    to: xa-ngo-harbor', // 14: recipient
        '    expect: allow',
        '  - as: xa-ngo-harbour',
        '    receive: CaseReferral',
        '    expect: { tier: specail }', // 18: tier
        '  - as: xa-ngo-harbour',
        '    send: IntelligenceReport',
        '    expect: { deny: ERR_POLICY_SEND_DENIE }', // 21: code
        '  - as: xa-ngo-harbour',
        '    receive: CaseReferral',
        '    scope: directt', // 24: scope
        '    expect: allow',
        '',
      ].join('\n'),
    );
    const r = await runBin(['policy', 'test', EXAMPLE_POLICY, file]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`${file}:2:9 cases[0].as: unknown agency "xa-ngo-harbor"`);
    expect(r.err).toContain('did you mean "xa-ngo-harbour"?');
    expect(r.err).toContain(`${file}:5:11 cases[1].role: unknown role "ngoo"`);
    expect(r.err).toContain('did you mean "ngo"?');
    expect(r.err).toContain(`${file}:10:11 cases[2].from: unknown agency "xa-polise"`);
    expect(r.err).toContain(`${file}:14:9 cases[3].to: unknown agency "xa-ngo-harbor"`);
    expect(r.err).toContain(`${file}:18:21 cases[4].expect.tier: unknown tier "specail"`);
    expect(r.err).toContain('did you mean "special"?');
    expect(r.err).toContain(`${file}:21:21 cases[5].expect.deny: unknown error code "ERR_POLICY_SEND_DENIE"`);
    expect(r.err).toContain('did you mean "ERR_POLICY_SEND_DENIED"?');
    expect(r.err).toContain(`${file}:24:12 cases[6].scope: unknown scope "directt"`);
    expect(r.err).toMatch(/7 problems/);
  }, 30_000);

  it('policy diff --exit-code: 1 when the policies differ, 0 when they grant the same; without the flag 0 either way', async () => {
    const text = await readFile(EXAMPLE_POLICY, 'utf8');
    const variant = join(dir, 'variant.yaml');
    const rule = '      - types: [StrategicReport, TrainingOffer]';
    expect(text).toContain(rule);
    await writeFile(variant, text.replace(rule, '      - types: [StrategicReport]'));
    const differ = await runBin(['policy', 'diff', '--exit-code', EXAMPLE_POLICY, variant]);
    expect(differ.code, differ.err).toBe(1);
    expect(differ.out).toContain('TrainingOffer');
    const same = await runBin(['policy', 'diff', '--exit-code', EXAMPLE_POLICY, EXAMPLE_POLICY]);
    expect(same.code, same.err).toBe(0);
    expect(same.out).toContain('exactly the same access');
    const plain = await runBin(['policy', 'diff', EXAMPLE_POLICY, variant]);
    expect(plain.code, plain.err).toBe(0);
  }, 30_000);

  it('policy explain --role ngo names every role that sends a type, not only the NGO', async () => {
    const r = await runBin(['policy', 'explain', EXAMPLE_POLICY, '--role', 'ngo']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/sent by nobody/);
    expect(r.out).toMatch(/^StrategicReport \(analysis\) — sent by analyst-centre \[mac-centre\]$/m);
    const referral = r.out.split('\n').find((l) => l.startsWith('CaseReferral '))!;
    expect(referral).toContain('border-police [');
    expect(referral).toContain('ngo [xa-ngo-harbour]');
    // The rows are still the NGO's alone.
    expect(r.out).not.toMatch(/^ {2}border-police /m);
  }, 30_000);
});
