import { describe, expect, it } from 'vitest';
import type { PolicyIssue } from '../services/sdk/policy/index.ts';
import { typeCatalogFromList } from './support/catalogue-list.ts';
import { policyIssuesOf } from './support/policy-issues.ts';

const catalog = typeCatalogFromList();

/** A policy with one designated maritime authority in each of two states (line 15 is the slot for a further agency). */
function policy(extraAgency = ''): string {
  return [
    'version: 1', //                                                                                1
    'name: sea', //                                                                                 2
    'roles:', //                                                                                    3
    '  maritime-authority:', //                                                                     4
    '    send: [BoardingAuthorisationRequest, BoardingAuthorisationResponse]', //                   5
    '    receive:', //                                                                              6
    '      - types: [BoardingAuthorisationRequest, BoardingAuthorisationResponse]', //              7
    '        tier: special', //                                                                     8
    '        scope: direct', //                                                                     9
    '  patrol:', //                                                                                10
    '    send: [BoardingMeasuresReport]', //                                                        11
    'agencies:', //                                                                                12
    '  xa-coast-guard: { name: Xandria Coast Guard, country: XAA, roles: [maritime-authority] }', // 13
    '  xb-police: { name: Bellmark Police, country: XBB, roles: [maritime-authority] }', //         14
    extraAgency, //                                                                                15
  ].join('\n') + '\n';
}

const issuesOf = (text: string): PolicyIssue[] => policyIssuesOf(text, 'sea.yaml', catalog);

describe('policy validation: one designated authority per state (Protocol art. 8(6))', () => {
  it('one maritime authority in each state is accepted', () => {
    expect(issuesOf(policy())).toEqual([]);
    // Another agency of a state without the role is no second authority.
    expect(issuesOf(policy('  xa-navy: { name: Xandria Navy, country: XAA, roles: [patrol] }'))).toEqual([]);
  });

  it('a second agency of one state with the maritime-authority role is an error at that agency, naming both', () => {
    const found = issuesOf(policy('  xa-navy: { name: Xandria Navy, country: XAA, roles: [maritime-authority] }'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: 'sea.yaml', line: 15, key: 'agencies.xa-navy.roles' });
    expect(found[0]!.text).toMatch(/^sea\.yaml:15:\d+ agencies\.xa-navy\.roles: /);
    expect(found[0]!.message).toContain('xa-navy');
    expect(found[0]!.message).toContain('xa-coast-guard');
    expect(found[0]!.message).toContain('XAA');
    expect(found[0]!.message).toContain('art. 8(6)');
  });

  it('the example federation policy names one maritime authority per state', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../deploy/policies/federation.yaml', import.meta.url), 'utf8');
    expect(issuesOf(text)).toEqual([]);
  });
});
