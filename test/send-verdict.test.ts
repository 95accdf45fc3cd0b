import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBin } from './support/liaison-bin.ts';
import { startWorkflowFixture, type WorkflowFixture } from './support/workflows.ts';

const protection = () => ({
  kind: 'REFERRAL_KIND_PROTECTION',
  summary: 'Rescued at sea; asks for shelter.',
  subject: { name: { familyName: 'Haddad', givenNames: 'Amir' }, birthDate: '1990-04-02', nationalities: ['XZZ'] },
  consentRecorded: true,
  consentScope: 'sharing with protection NGO',
});

/**
 * Feedback for a workflow step at the terminal (issue 14): `liaison send` of a step the case registry decides waits
 * (without consuming) for the registry's verdict on that message, so a non-party's step exits 1 with the refusal's
 * code and reason instead of exit 0 and a rejection that arrives later, unexplained; a legal step prints the state change.
 */
describe('liaison send: the case registry verdict at the terminal', () => {
  let fx: WorkflowFixture;
  let outsider: string;
  beforeAll(async () => {
    // The NGO's and police's notices are consumed by their running integrations (the fixture): the verdict must still be seen.
    fx = await startWorkflowFixture('wf-send-verdict', ['xa-border-police', 'xa-ngo-harbour']);
    outsider = await fx.fed.enrol('xa-prosecutor');
  }, 120_000);
  afterAll(async () => fx?.stop());

  it('a non-party deciding on a referral: exit 1 with ERR_WORKFLOW_NOT_A_PARTY; the party acknowledging: exit 0 with the transition', async () => {
    const police = fx.party('xa-border-police');
    const sent = await police.client.send('CaseReferral', protection(), { to: 'xa-ngo-harbour' });
    const ref = `case-referral.${sent.id}`;
    await fx.caseIn(ref, 'referred');
    const decision = JSON.stringify({ referralId: sent.id, decision: 'REFERRAL_DECISION_KIND_ACCEPTED' });
    const refused = await runBin(['send', '--as', outsider, '--server', fx.fed.server.url, '--type', 'ReferralDecision', '--json', decision, '--to', 'xa-border-police']);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toMatch(/^liaison: ERR_WORKFLOW_NOT_A_PARTY: the case registry mac-cases refused ReferralDecision /m);
    expect(refused.out).toContain('ReferralDecision'); // the send itself is still reported
    const ack = await runBin(['send', '--as', fx.fed.agencyDirs['xa-ngo-harbour']!, '--server', fx.fed.server.url, '--type', 'ReferralAcknowledgement', '--json', JSON.stringify({ referralId: sent.id }), '--to', 'xa-border-police']);
    expect(ack.code, ack.err).toBe(0);
    expect(ack.out).toContain(`case ${ref}: referred → acknowledged (acknowledge, applied by mac-cases)`);
  }, 120_000);

  it('a message no case registry decides is not waited for', async () => {
    const body = JSON.stringify({ documentNumber: 'XA5550001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
    const started = Date.now();
    const r = await runBin(['send', '--as', fx.fed.agencyDirs['xa-border-police']!, '--server', fx.fed.server.url, '--type', 'DocumentReport', '--json', body]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toContain('verdict');
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);
});
