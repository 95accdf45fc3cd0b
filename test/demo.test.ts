import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../services/simulator/demo.ts';

describe('npm start: the default scenario (interception → ¶13–17 end to end)', () => {
  it('plays against its own exchange, every expectation holds, the outcomes are right, and it leaves nothing behind', async () => {
    const lines: string[] = [];
    const result = await runDemo({ out: (l) => lines.push(l) });
    expect(result.failures).toEqual([]);
    const text = lines.join('\n');
    expect(text).toContain('All expectations held.');
    // Field-level access: the NGO's copy of the referral is personal, the centre's document report operational.
    expect(result.saw['xa-ngo-harbour']?.CaseReferral).toBe('personal');
    expect(result.saw['mac-centre']?.DocumentReport).toBe('operational');
    expect(result.saw['xa-ngo-harbour']?.IntelligenceReport).toBeUndefined();
    expect(result.saw['mac-cases']?.CaseReferral).toBe('personal');
    expect(result.saw['mac-cases']?.MutualLegalAssistanceRequest).toBe('operational');
    // Refusals by the SDK, the broker, a receiver and the case registry all appear.
    expect(result.refusals.ERR_POLICY_SEND_DENIED).toBe(1);
    expect(result.refusals.ERR_POLICY_HANDLING_DENIED).toBe(1);
    expect(result.refusals['NATS Permissions Violation']).toBe(4);
    expect(result.refusals.ERR_SIGNATURE_INVALID).toBe(1);
    expect(result.refusals.ERR_WORKFLOW_GUARD).toBe(2);
    expect(result.refusals.ERR_WORKFLOW_ILLEGAL_TRANSITION).toBe(1);
    // Workflow outcomes: the joint investigation active, the MLA request partly executed, three referrals accepted, a course open.
    const outcome = (workflow: string) => result.cases.filter((c) => c.workflow === workflow).map((c) => c.state).sort();
    expect(outcome('joint-investigation')).toEqual(['active']);
    expect(outcome('mla-request')).toEqual(['partially-executed']);
    expect(outcome('case-referral')).toEqual(['accepted', 'accepted', 'accepted']);
    expect(outcome('training')).toEqual(['open']);
    // Issue 15 (¶18): a boarding request refused, then another granted with conditions and its results reported;
    // the flag state's designated authority saw the requests whole, the NGO the report of measures at the public tier.
    expect(outcome('boarding')).toEqual(['refused', 'reported']);
    expect(result.saw['xb-police']?.BoardingAuthorisationRequest).toBe('special');
    expect(result.saw['xa-ngo-harbour']?.BoardingMeasuresReport).toBe('public');
    expect(result.saw['xa-ngo-harbour']?.BoardingAuthorisationRequest).toBeUndefined();
    expect(result.saw['xa-ngo-harbour']?.PracticeNote).toBe('public');
    // Issue 15 (¶9(c)): the onward dissemination refused at send until the originator consented; the consent case
    // granted; then passed on with the signed grant, the prosecutor's copy at its personal tier (no analysis).
    expect(result.refusals.ERR_CONSENT_REQUIRED).toBe(1);
    expect(outcome('fiu-consent')).toEqual(['granted']);
    expect(result.saw['xb-fiu']?.FinancialIntelligenceReport).toBe('special');
    expect(result.saw['xb-prosecutor']?.FinancialIntelligenceReport).toBe('personal');
    expect(result.events.some((e) => e.type === 'WorkflowStateChange' && String(e.detail).includes('passed on to xb-prosecutor under the consent'))).toBe(true);
    // ¶12: the forgery alert reached the registry at the operational tier, never the NGO.
    expect(result.saw['xc-ncb']?.ForgeryAlert).toBe('operational');
    expect(result.saw['xa-ngo-harbour']?.ForgeryAlert).toBeUndefined();
    // Issue 6: the return programme's decline, sent in error, is corrected: undone, then the acceptance applies;
    // both prior recipients (the referring police and the case registry) returned a signed receipt.
    const receipts = result.events.filter((e) => e.type === 'Retraction' && e.from === 'xb-return');
    expect(receipts.map((e) => [e.to, e.outcome]).sort()).toEqual([
      ['mac-cases', 'delivered'],
      ['xa-border-police', 'delivered'],
    ]);
    expect(result.events.some((e) => e.type === 'WorkflowStateChange' && e.to === 'xa-border-police' && String(e.detail).includes('declined → referred'))).toBe(true);
    // ¶17: the centre linked the vessel across two agencies, each told at its tier; its report went out.
    expect(result.correlations.some((c) => c.to === 'xa-coast-guard')).toBe(true);
    expect(result.correlations.some((c) => c.to === 'xb-police')).toBe(true);
    // Issue 6: the border police's misread report is retracted; the centre withdraws the alert it sent the
    // border police and corrects the two others' (the link between them stands).
    const settled = result.events.filter((e) => e.type === 'Retraction' && e.from === 'mac-centre' && e.outcome === 'delivered');
    expect(settled.map((e) => [e.to, String(e.detail).includes('corrected') ? 'corrected' : 'withdrawn']).sort()).toEqual([
      ['xa-border-police', 'withdrawn'],
      ['xa-coast-guard', 'corrected'],
      ['xb-police', 'corrected'],
    ]);
    expect(result.saw['xa-ngo-harbour']?.StrategicReport).toBe('public');
    expect(result.saw['xa-border-police']?.StrategicReport).toBe('operational');
    // The timeline names simulated days, the summary the workflow outcomes.
    expect(text).toContain('[day 23 00:00]');
    expect(text).toContain('workflow outcomes:');
    // Its own throwaway directory (keys, credentials, store) is gone; other suites' runs may be in progress.
    expect(result.workDir.startsWith(tmpdir())).toBe(true);
    expect(existsSync(result.workDir)).toBe(false);
  }, 180_000);
});
