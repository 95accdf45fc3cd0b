/**
 * The policy's `edge` key (issue 17): an agency's offline allowance, validated like every other key (errors name
 * file, line and key), and what it sets — the freshness bound of that sender's copies and how long every agency's
 * handled record is kept.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { OUTBOX_MAX_AGE_MS } from '../services/edge/outbox.ts';
import { freshnessBoundMs, REPLAY_TOLERANCE_MS } from '../services/sdk/client/freshness.ts';
import { MAX_CLOCK_SKEW_MS } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { handledMaxAgeMs } from '../services/sdk/policy/compile.ts';
import { MAX_OFFLINE_MS } from '../services/sdk/policy/edge.ts';
import { parsePolicy, type Policy, type PolicyIssue } from '../services/sdk/policy/index.ts';
import { typeCatalogFromList } from './support/catalogue-list.ts';
import { policyIssuesOf } from './support/policy-issues.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';

const catalog = typeCatalogFromList();
const HOUR = 3_600_000;

/** A small policy; lines 9-11 hold the `edge` map. */
function policy(edge: string[]): string {
  return [
    'version: 1', //                                                                       1
    'name: sea', //                                                                        2
    'roles:', //                                                                           3
    '  patrol:', //                                                                        4
    '    send: [IntelligenceReport]', //                                                   5
    'agencies:', //                                                                        6
    '  xa-coast-guard: { name: Xandria Coast Guard, country: XAA, roles: [patrol] }', //   7
    '  xb-police: { name: Bellmark Police, country: XBB, roles: [patrol] }', //            8
    ...edge, //                                                                             9…
  ].join('\n') + '\n';
}

const issuesOf = (text: string): PolicyIssue[] => policyIssuesOf(text, 'sea.yaml', catalog);

const parse = (text: string): Policy => parsePolicy(text, { file: 'sea.yaml', catalog });

describe('policy validation: edge offline allowances (issue 17)', () => {
  it('an allowance for an agency of the policy is read in milliseconds; a policy without `edge` has none', () => {
    expect(parse(policy(['edge:', '  xa-coast-guard:', '    offline: 24h'])).edge).toEqual({ 'xa-coast-guard': { offlineMs: 24 * HOUR } });
    expect(parse(policy([])).edge).toBeUndefined();
  });

  it('a malformed duration is an error at its line, naming the key', () => {
    const found = issuesOf(policy(['edge:', '  xa-coast-guard:', '    offline: 24 hours']));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: 'sea.yaml', line: 11, key: 'edge.xa-coast-guard.offline' });
    expect(found[0]!.message).toContain('invalid duration "24 hours"');
    let err: unknown;
    try {
      parse(policy(['edge:', '  xa-coast-guard:', '    offline: 0h']));
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_POLICY_INVALID')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({ file: 'sea.yaml', line: 11, key: 'edge.xa-coast-guard.offline' });
  });

  it('an allowance for an agency the policy does not name is an error at its line, with a hint', () => {
    const found = issuesOf(policy(['edge:', '  xa-coastguard:', '    offline: 24h']));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: 'sea.yaml', line: 10, key: 'edge.xa-coastguard' });
    expect(found[0]!.message).toContain('unknown agency "xa-coastguard"');
    expect(found[0]!.message).toContain('did you mean "xa-coast-guard"');
  });

  it('an allowance longer than a leaf outbox keeps copies (30d), a missing `offline` and an unknown key are errors', () => {
    // The cap is what a leaf's outbox keeps: an allowance past it would accept copies the outbox no longer holds.
    expect(MAX_OFFLINE_MS).toBe(OUTBOX_MAX_AGE_MS);
    expect(issuesOf(policy(['edge:', '  xa-coast-guard:', `    offline: ${MAX_OFFLINE_MS / 86_400_000}d`]))).toEqual([]);
    const tooLong = issuesOf(policy(['edge:', '  xa-coast-guard:', '    offline: 31d']));
    expect(tooLong.map((i) => [i.line, i.key])).toEqual([[11, 'edge.xa-coast-guard.offline']]);
    expect(tooLong[0]!.message).toContain('longer than 30d');
    const typo = issuesOf(policy(['edge:', '  xa-coast-guard:', '    ofline: 24h']));
    expect(typo.map((i) => i.key).sort()).toEqual(['edge.xa-coast-guard.offline', 'edge.xa-coast-guard.ofline']);
    expect(typo.find((i) => i.key === 'edge.xa-coast-guard.ofline')!.message).toContain('did you mean "offline"');
  });
});

describe('what an allowance sets', () => {
  const withEdge = parse(policy(['edge:', '  xa-coast-guard:', '    offline: 3d']));
  const without = parse(policy([]));

  it("the freshness bound of that sender's copies: the allowance plus the clock skew; other senders keep the default tolerance", () => {
    expect(freshnessBoundMs(withEdge, 'xa-coast-guard')).toBe(72 * HOUR + MAX_CLOCK_SKEW_MS);
    expect(freshnessBoundMs(withEdge, 'xb-police')).toBe(REPLAY_TOLERANCE_MS);
    expect(freshnessBoundMs(without, 'xa-coast-guard')).toBe(REPLAY_TOLERANCE_MS);
    // An allowance shorter than the tolerance never shortens it.
    const short = parse(policy(['edge:', '  xa-coast-guard:', '    offline: 1m']));
    expect(freshnessBoundMs(short, 'xa-coast-guard')).toBe(REPLAY_TOLERANCE_MS);
  });

  it('the handled record of every agency is kept the largest allowance longer', () => {
    expect(handledMaxAgeMs(withEdge) - handledMaxAgeMs(without)).toBe(72 * HOUR);
  });
});

describe('policy explain and why show the allowance', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-policy-edge-'));
    file = join(dir, 'edge.yaml');
    await writeFile(file, `${await readFile(EXAMPLE_POLICY, 'utf8')}\nedge:\n  xa-coast-guard:\n    offline: 36h\n`);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function cli(argv: string[]) {
    const out: string[] = [];
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => out.push(l), interrupted: new Promise<void>(() => undefined) });
    return { code, text: out.join('\n') };
  }

  it('explain lists the agency and how late its copies are accepted; under a role filter only agencies holding the role', async () => {
    const all = await cli(['policy', 'explain', file, '--type', 'IntelligenceReport']);
    expect(all.code).toBe(0);
    expect(all.text).toContain('edge: xa-coast-guard may work offline 1d 12h (policy edge): its copies are accepted when stored up to 1d 12h 5m after they were signed (other senders: 7m)');
    expect(JSON.parse((await cli(['policy', 'explain', file, '--json'])).text).edge).toEqual([{ agency: 'xa-coast-guard', offlineMs: 36 * HOUR }]);
    expect((await cli(['policy', 'explain', file, '--role', 'ngo'])).text).not.toContain('edge:');
    expect((await cli(['policy', 'explain', EXAMPLE_POLICY, '--type', 'IntelligenceReport'])).text).not.toContain('edge:');
  });

  it('why names the allowance of the sender, receiving from it or sending as it; not for a sender without one', async () => {
    const from = await cli(['policy', 'why', file, '--as', 'mac-centre', '--receive', 'IntelligenceReport', '--from', 'xa-coast-guard']);
    expect(from.code).toBe(0);
    expect(from.text).toContain('xa-coast-guard may work offline 1d 12h');
    const as = await cli(['policy', 'why', file, '--as', 'xa-coast-guard', '--send', 'IntelligenceReport', '--to', 'mac-centre', '--json']);
    expect(JSON.parse(as.text).edge).toEqual({ offlineMs: 36 * HOUR, acceptedLateMs: 36 * HOUR + MAX_CLOCK_SKEW_MS });
    const other = await cli(['policy', 'why', file, '--as', 'mac-centre', '--receive', 'IntelligenceReport', '--from', 'xa-border-police']);
    expect(other.code).toBe(0);
    expect(other.text).not.toContain('offline');
  });
});
