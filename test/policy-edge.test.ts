/**
 * The policy's `edge` key (issue 17): an agency's offline allowance, validated like every other key (errors name
 * file, line and key), and what it sets — the freshness bound of that sender's copies and how long every agency's
 * handled record is kept.
 */
import { describe, expect, it } from 'vitest';
import { freshnessBoundMs, REPLAY_TOLERANCE_MS } from '../services/sdk/client/freshness.ts';
import { MAX_CLOCK_SKEW_MS } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { handledMaxAgeMs } from '../services/sdk/policy/compile.ts';
import { MAX_OFFLINE_MS } from '../services/sdk/policy/edge.ts';
import { parsePolicy, type Policy, type PolicyIssue } from '../services/sdk/policy/index.ts';
import { typeCatalogFromList } from './support/catalogue-list.ts';

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

function issuesOf(text: string): PolicyIssue[] {
  try {
    parsePolicy(text, { file: 'sea.yaml', catalog });
  } catch (err) {
    if (isLiaisonError(err, 'ERR_POLICY_INVALID')) return (err.details.errors as PolicyIssue[]) ?? [];
    throw err;
  }
  return [];
}

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
