import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { messageSubject } from '../services/sdk/subjects.ts';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import { connectAcross, connectBridged } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { sealAdmittingAnything } from './support/cross-seal.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

/**
 * Observers across a bridge (issue 17): the case registry mac-cases observes CaseReferral (personal tier) in both
 * federations, which both run the example policy. The example agreement's flow med:xa-coast-guard → atl:xb-police
 * carries CaseReferral; the copy is observed in med (outbound, in med's stream) and in atl (inbound, republished by
 * the bridge). Inside a federation its own policy governs: each registry records the referral as a case between a
 * local agency and a qualified one; a copy no flow admits is still refused.
 */
const ID = 'med-atl';
const FLOWS = [{ from: 'med:xa-coast-guard', to: 'atl:xb-police', types: ['IntelligenceReport', 'CaseReferral'], tier: 'personal' }];
const person = { name: { familyName: 'Haddad', givenNames: 'Amir' }, birthDate: '1990-04-02', nationalities: ['XZZ'] };
const referral = (summary: string) => ({ kind: 'REFERRAL_KIND_PROSECUTION', summary, subject: person });

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let coast: LiaisonClient;
let medCasesClient: LiaisonClient;
let atlCasesClient: LiaisonClient;
let medCases: Workflows;
let atlCases: Workflows;

beforeAll(async () => {
  ({ feds, bridge } = await createBridgedFederations({ med: ['xa-coast-guard', 'mac-cases'], atl: ['xb-police', 'mac-cases'], id: ID, flows: FLOWS }));
  ({ med: coast, atl: atlCasesClient } = await connectAcross(feds, 'xa-coast-guard', 'mac-cases'));
  medCasesClient = await connectBridged(feds.med, 'mac-cases');
  medCases = await startWorkflows({ client: medCasesClient, tickMs: 0 });
  atlCases = await startWorkflows({ client: atlCasesClient, tickMs: 0 });
}, 120_000);

afterAll(async () => {
  await medCases?.stop();
  await atlCases?.stop();
  await stopBridged(bridge, feds);
}, 60_000);

describe('observers of a bridged flow type', () => {
  it('the case registry on each side records a CaseReferral med:xa-coast-guard → atl:xb-police as a case between a local and a qualified party', async () => {
    const r = await coast.send('CaseReferral', referral('Pilot of the intercepted boat'), { to: 'atl:xb-police' });
    const ref = `case-referral.${r.id}`;
    await until(() => atlCases.cases().some((c) => c.ref === ref) || Object.keys(atlCasesClient.stats.rejected).length > 0, 20_000, 'atl’s registry to see the referral');
    expect(atlCasesClient.stats.rejected).toEqual({});
    const there = atlCases.cases().find((c) => c.ref === ref)!;
    expect([there.requester, there.requested, there.state]).toEqual(['med:xa-coast-guard', 'xb-police', 'referred']);
    await until(() => medCases.cases().some((c) => c.ref === ref) || Object.keys(medCasesClient.stats.rejected).length > 0, 20_000, 'med’s registry to see the referral');
    expect(medCasesClient.stats.rejected).toEqual({});
    const here = medCases.cases().find((c) => c.ref === ref)!;
    expect([here.requester, here.requested, here.state]).toEqual(['xa-coast-guard', 'atl:xb-police', 'referred']);
  }, 60_000);

  it('a cross copy no applied flow admits is refused by the observer (ERR_POLICY_RECEIVE_DENIED), not recorded', async () => {
    // xa-coast-guard's own broker stores a CaseReferral to atl:xb-prosecutor (its '*' recipient token matches), signed
    // by it — its SDK refuses such a send, so it is sealed with a cross context admitting anything.
    const sealed = await sealAdmittingAnything(feds, ID, coast, 'CaseReferral', referral('not agreed'), 'atl:xb-prosecutor');
    const copy = sealed.copies[0]!;
    const family = feds.med.catalog.get('CaseReferral').family;
    const raw = await RawAgency.connect(feds.med.server.url, feds.med.agencyDirs['xa-coast-guard']!, 'xa-coast-guard');
    try {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
      await raw.nc.request(messageSubject({ tier: copy.tier, family, type: 'CaseReferral', sender: 'xa-coast-guard', recipient: 'atl:xb-prosecutor' }), copy.data, { headers: h, timeout: 5_000 });
    } finally {
      await raw.close();
    }
    await until(() => (medCasesClient.stats.rejected.ERR_POLICY_RECEIVE_DENIED ?? 0) > 0 || medCases.cases().some((c) => c.ref === `case-referral.${sealed.id}`), 15_000, 'med’s registry to settle the copy');
    expect(medCasesClient.stats.rejected).toEqual({ ERR_POLICY_RECEIVE_DENIED: 1 });
    expect(medCases.cases().some((c) => c.ref === `case-referral.${sealed.id}`)).toBe(false);
  }, 30_000);
});
