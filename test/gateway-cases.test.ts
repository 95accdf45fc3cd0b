import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { call, startTestGateway, type TestGateway } from './support/gateway.ts';
import { ManualClock, until, workflowPolicyText } from './support/workflows.ts';

const POLICE = 'xa-border-police';
const NGO = 'xa-ngo-harbour';
const REFERRAL = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Rescued at sea; asks for shelter.', consentRecorded: true };

describe('gateway: case queries against a running case registry', () => {
  let fed: TestFederation;
  let wf: Workflows;
  let police: TestGateway;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['mac-cases', POLICE, NGO], name: 'gateway-cases', policyText: await workflowPolicyText() });
    wf = await startWorkflows({ client: await fed.connect('mac-cases'), clock: new ManualClock(), tickMs: 0 });
    police = await startTestGateway(fed, POLICE);
  }, 60_000);
  afterAll(async () => {
    await police?.stop();
    await wf?.stop();
    await fed?.stop();
  });

  it('a referral sent over HTTP opens a case the sender then finds with POST /v1/cases/query', async () => {
    const sent = await call(police.url, 'POST', `/v1/messages/CaseReferral?to=${NGO}`, { token: police.token, json: REFERRAL });
    expect(sent.status).toBe(201);
    await until(() => wf.stats.opened === 1, 20_000, 'case opened');
    const r = await call(police.url, 'POST', '/v1/cases/query', { token: police.token, json: {} });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ from: 'mac-cases', type: 'CaseQueryResult' });
    const cases = r.body.body.cases as { caseRef: string; state: string }[];
    expect(cases).toHaveLength(1);
    expect(JSON.stringify(cases[0])).toContain(sent.body.id);
    const unknownField = await call(police.url, 'POST', '/v1/cases/query', { token: police.token, json: { nonsense: 1 } });
    expect([unknownField.status, unknownField.body.code]).toEqual([422, 'ERR_BODY_INVALID']);
  }, 40_000);
});
