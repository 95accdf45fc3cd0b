import { describe, expect, it } from 'vitest';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { parsePolicy } from '../services/sdk/policy/index.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { DIRECTORY_VIEW_TTL_MS, directoryView, directoryViewStats } from '../services/workflows/directory-view.ts';

/**
 * The case registry's view of the policy's directory (services/workflows/directory-view.ts, issue 16
 * item 3): built once per policy instead of per message and per case per tick, and never stale: a new
 * policy, a policy edited in place (its hash changed) and the time bound each build it afresh.
 */

const POLICY = `
version: 1
name: directory-view-unit
roles:
  police:
    send: [DocumentReport]
  supervisor:
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: direct
agencies:
  xb-police: { name: Bellmark Police, country: XBB, roles: [police, supervisor] }
  xa-police: { name: Xandria Police, country: XAA, roles: [police, supervisor] }
  xa-ngo: { name: Xandria NGO, country: XAA, roles: [police] }
`;

describe('case registry directory view', () => {
  const catalog = typeCatalogOf(loadCatalog());
  const parse = (text: string) => parsePolicy(text, { file: 'unit.yaml', catalog });

  it('is built once per policy: the agencies, their countries and roles, the holders of a role sorted', () => {
    const policy = parse(POLICY);
    const before = directoryViewStats.built;
    const view = directoryView(policy);
    for (let i = 0; i < 100; i++) expect(directoryView(policy)).toBe(view);
    expect(directoryViewStats.built - before).toBe(1);
    expect([...view.agencies].sort()).toEqual(['xa-ngo', 'xa-police', 'xb-police']);
    expect(view.directory.get('xa-police')).toEqual({ country: 'XAA', roles: ['police', 'supervisor'] });
    expect(view.holding('supervisor')).toEqual(['xa-police', 'xb-police']);
    expect(view.holding('supervisor')).toBe(view.holding('supervisor'));
    expect(view.holding('nobody')).toEqual([]);
  });

  it('a new policy, an edit in place (new hash) and the time bound each build the view afresh', () => {
    const policy = parse(POLICY);
    const t0 = 5_000_000;
    const first = directoryView(policy, t0);
    const grown = parse(`${POLICY}  xc-police: { name: Carrow Police, country: XCC, roles: [supervisor] }\n`);
    expect(directoryView(grown, t0).holding('supervisor')).toEqual(['xa-police', 'xb-police', 'xc-police']);
    expect(directoryView(policy, t0 + 1)).toBe(first);
    policy.agencies['xb-police'] = { ...policy.agencies['xb-police']!, roles: ['police'] };
    policy.hash = `${policy.hash}-edited`;
    const edited = directoryView(policy, t0 + 2);
    expect(edited).not.toBe(first);
    expect(edited.holding('supervisor')).toEqual(['xa-police']);
    expect(directoryView(policy, t0 + 2 + DIRECTORY_VIEW_TTL_MS)).not.toBe(edited);
  });
});
