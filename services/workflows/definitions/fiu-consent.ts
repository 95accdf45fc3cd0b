import type { CaseRecord, Refusal, WorkflowDefinition, WorkflowMessage } from '../model.ts';
import { DAY, byReference, guardFail, list, text, time } from './read.ts';

const DECISION = 'CONSENT_DECISION_';
const isDecision = (...d: string[]) => (body: Record<string, unknown>) => d.map((x) => DECISION + x).includes(text(body, 'decision'));

/** Default time the originator has to answer a consent request (Egmont: promptly). */
const DEFAULT_ANSWER_DAYS = 5;

const proposed = (c: CaseRecord) => c.data.proposedRecipients as string[];

/** A report that passes on another unit's report (its body names an originator other than its sender). */
const onward = (m: WorkflowMessage) => m.type === 'FinancialIntelligenceReport' && text(m.body, 'originator') !== '' && text(m.body, 'originator') !== m.sender;

/** Why a report passed on does not match the consent recorded in the case, or undefined when it does. */
function outsideConsent(c: CaseRecord, m: WorkflowMessage, now: number): Refusal | undefined {
  const refuse = (why: string): Refusal => ({ code: 'ERR_CONSENT_REQUIRED', reason: `report passed on to ${m.recipient} without the originator's consent: ${why}` });
  if (text(m.body, 'originator') !== c.requested) return refuse(`the consent is ${c.requested}'s, the report names ${text(m.body, 'originator')} as originator`);
  if (text(m.body, 'originalReportId') !== c.data.reportId) return refuse(`the consent is for report ${c.data.reportId as string}, not ${text(m.body, 'originalReportId') || '(none)'}`);
  if (!(c.data.grantedRecipients as string[]).includes(m.recipient)) return refuse(`granted for ${(c.data.grantedRecipients as string[]).join(', ')} only`);
  const until = c.data.validUntil as number | undefined;
  if (until !== undefined && until <= now) return refuse(`the consent lapsed at ${new Date(until).toISOString()}`);
  return undefined;
}

/**
 * Prior consent to onward dissemination of financial intelligence (¶9(c); Egmont principles): the unit
 * holding a report asks its originator for consent to pass it on to named agencies; the originator
 * grants (possibly with conditions, possibly to fewer recipients) or refuses with reasons. The onward
 * sender's SDK refuses to pass the report on without the signed grant (policy `consent`); the case
 * keeps the record of who asked, who answered and for whom, never the report's content. The registry
 * also observes reports passed on (`consent_id` names the consent request): each is recorded in the case and told
 * to the originator, and one the grant does not cover — a sender whose SDK skipped the check — is
 * refused with ERR_CONSENT_REQUIRED to its sender and recipient (one naming no consent: no such case).
 */
export const fiuConsent: WorkflowDefinition = {
  name: 'fiu-consent',
  title: 'Consent to onward dissemination of financial intelligence',
  paragraphs: '9(c)',
  opens: {
    type: 'DisseminationConsentRequest',
    key: (m) => `fiu-consent.${m.id}`,
    initial: 'requested',
    guard: (m, ctx) => {
      if (!text(m.body, 'reportId')) return guardFail('a consent request must name the report to pass on (report_id, the header id of the originator\'s report)');
      const recipients = list(m.body, 'proposedRecipients').map(String);
      if (recipients.length === 0) return guardFail('a consent request must name the agencies the report would go to (proposed_recipients)');
      const unknown = recipients.filter((r) => !ctx.agencies.has(r));
      if (unknown.length > 0) return guardFail(`proposed recipients ${unknown.join(', ')} are not agencies of the federation`);
      if (!text(m.body, 'purpose')) return guardFail('a consent request must state what the recipients would use the report for (purpose)');
      return undefined;
    },
    apply: (c, m, ctx) => {
      c.kind = 'onward-dissemination';
      c.data.reportId = text(m.body, 'reportId');
      c.data.proposedRecipients = list(m.body, 'proposedRecipients').map(String);
      c.data.linkedMlaRequests = list(m.body, 'linkedMlaRequestIds').map(String);
      c.data.deadline = time(m.body, 'respondBy') ?? ctx.now + DEFAULT_ANSWER_DAYS * DAY;
      return { note: `consent asked to pass report ${c.data.reportId as string} on to ${proposed(c).join(', ')}` };
    },
  },
  follows: [
    { type: 'DisseminationConsentResponse', link: byReference('requestId') },
    { type: 'FinancialIntelligenceReport', applies: onward, link: (m) => (text(m.body, 'consentId') ? { messageId: text(m.body, 'consentId') } : {}) },
  ],
  states: {
    requested: { deadlines: [{ name: 'consent', party: 'requested', awaited: 'DisseminationConsentResponse', due: (c) => c.data.deadline as number, graceMs: 2 * DAY }] },
    // Not terminal: the reports passed on under the grant are recorded in the case.
    granted: {},
    refused: { terminal: true },
  },
  transitions: [
    {
      name: 'grant',
      on: 'DisseminationConsentResponse',
      when: isDecision('GRANTED', 'GRANTED_WITH_CONDITIONS'),
      from: ['requested'],
      to: 'granted',
      by: ['requested'],
      guard: (c, m) => {
        const granted = list(m.body, 'grantedRecipients').map(String);
        if (granted.length === 0) return guardFail('a grant must name the recipients it covers (granted_recipients)');
        const beyond = granted.filter((r) => !proposed(c).includes(r));
        if (beyond.length > 0) return guardFail(`a grant may cover only the proposed recipients (${proposed(c).join(', ')}), not ${beyond.join(', ')}`);
        if (text(m.body, 'reportId') && text(m.body, 'reportId') !== c.data.reportId) return guardFail(`the answer is about report ${text(m.body, 'reportId')}, the request about ${c.data.reportId as string}`);
        if (isDecision('GRANTED_WITH_CONDITIONS')(m.body) && !text(m.body, 'conditions')) return guardFail('a grant with conditions must state them (conditions)');
        return undefined;
      },
      apply: (c, m) => {
        c.data.grantedRecipients = list(m.body, 'grantedRecipients').map(String);
        const until = time(m.body, 'validUntil');
        if (until !== undefined) c.data.validUntil = until;
        const conditional = isDecision('GRANTED_WITH_CONDITIONS')(m.body);
        return { note: `granted${conditional ? ' with conditions' : ''} for ${(c.data.grantedRecipients as string[]).join(', ')}` };
      },
    },
    {
      name: 'refuse',
      on: 'DisseminationConsentResponse',
      when: isDecision('REFUSED'),
      from: ['requested'],
      to: 'refused',
      by: ['requested'],
      guard: (_c, m) => (text(m.body, 'reasons') ? undefined : guardFail('a refusal of consent must give reasons (reasons)')),
    },
    {
      name: 'disseminate',
      on: 'FinancialIntelligenceReport',
      from: ['granted'],
      to: 'granted',
      by: ['requester'],
      guard: (c, m, ctx) => outsideConsent(c, m, ctx.now),
      apply: (_c, m) => ({ note: `report passed on to ${m.recipient} under the consent` }),
    },
  ],
  supervisor: 'analyst-centre',
};
