/**
 * `liaison policy apply` keeps the applied agreements current (issue 17): the bridge's compiled side (export
 * consumers, the export and import users' rights) is recompiled from the new policy on the running exchange, and a
 * running `bridge up` carries on with the re-issued users — no `bridge apply` again, no restart. Here atl lowers
 * its xb-police's IntelligenceReport ceiling from personal to operational: what crosses from med changes with it (an
 * operational copy, which the import user compiled under the old policy would have refused).
 */
import { readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handledMaxAgeMs } from '../services/sdk/policy/compile.ts';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { applyPolicy, type ApplyReport } from '../services/exchange/policy-apply.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { connectAcross, POLICE_MED_TO_ATL } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { until } from './support/workflows.ts';

const ID = 'med-atl';
const DAY = 24 * 3_600_000;
const TYPE = 'IntelligenceReport';
const FLOWS = [POLICE_MED_TO_ATL];
/** The border-police role's IntelligenceReport rule (xb-police's highest for the type) lowered to operational. */
const PERSONAL_RULE = '      - types: [IntelligenceReport]\n        tier: personal\n        scope: any\n';

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let sender: LiaisonClient;
let receiver: LiaisonClient;
const got: ReceivedMessage[] = [];

beforeAll(async () => {
  ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police'], atl: ['xb-police'], id: ID, flows: FLOWS, outage: '2d' }));
  ({ med: sender, atl: receiver } = await connectAcross(feds, 'xa-border-police', 'xb-police'));
  await receiver.consume((m) => void got.push(m), { types: [TYPE] });
}, 120_000);

afterAll(() => stopBridged(bridge, feds), 60_000);

describe('policy apply with an applied agreement', () => {
  it('before: the copy crosses at personal, xb-police’s ceiling', async () => {
    const r = await sender.send(TYPE, { summary: 'before the change' }, { to: 'atl:xb-police' });
    await until(() => got.some((m) => m.header.id === r.id), 20_000, 'the personal copy');
    expect(got.find((m) => m.header.id === r.id)!.header.tier).toBe('personal');
  }, 30_000);

  it('after atl lowers xb-police’s ceiling to operational, an operational copy crosses through the running bridge', async () => {
    const text = readFileSync(EXAMPLE_POLICY, 'utf8');
    expect(text.split(PERSONAL_RULE).length).toBe(2);
    expect(text.split('  legal: 3650d').length).toBe(2);
    const report: ApplyReport = await applyPolicy({
      trustDir: feds.atl.trustDir,
      // …and one retention lengthened by a day: the handled records are re-provisioned to the policy's new age.
      policyText: text.replace(PERSONAL_RULE, PERSONAL_RULE.replace('personal', 'operational')).replace('  legal: 3650d', '  legal: 3651d'),
      catalog: typeCatalogOf(feds.atl.catalog),
      url: feds.atl.server.url,
      admin: feds.atl.exchange.admin,
      pushDirectory: () => feds.atl.exchange.directory.refresh(),
    });
    expect(report.bridges?.map((b) => [b.id, b.usersReissued])).toEqual([[ID, true]]);
    // med's client seals for the tier atl's policy (relayed through the bridge) gives its recipient.
    const tiers = () => sender.seal(TYPE, { summary: 'probe' }, { to: 'atl:xb-police' }).copies.map((c) => c.tier);
    await until(() => tiers().join() === 'operational', 30_000, 'med’s sender to learn atl’s new policy');
    await until(() => receiver.policy.hash === report.to.hash, 15_000, 'xb-police to adopt the new policy');
    // The policy's provisioning set the handled records back to the policy's age; the agreement's outage is on top again.
    const info = await (await jetstreamManager(feds.atl.exchange.admin)).streams.info('KV_xb-police_handled');
    expect(info.config.max_age / 1_000_000).toBe(handledMaxAgeMs(receiver.policy) + 2 * DAY);
    const r = await sender.send(TYPE, { summary: 'after the change' }, { to: 'atl:xb-police' });
    await until(() => got.some((m) => m.header.id === r.id), 30_000, 'the operational copy');
    expect(got.find((m) => m.header.id === r.id)!.header.tier).toBe('operational');
  }, 90_000);
});
