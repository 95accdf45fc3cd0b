import type { CaseRecord, WorkflowDefinition } from '../model.ts';
import { DAY, byReference, enumTail, flag, guardFail, text, time } from './read.ts';
import { specialNeedsGuard } from './special-needs.ts';

const DECISION = 'REFERRAL_DECISION_KIND_';
const isDecision = (d: string) => (body: Record<string, unknown>) => text(body, 'decision') === DECISION + d;

/** Respond-by of the referral (its `respond_by`, or three days after it was registered). */
const decisionDue = (c: CaseRecord) => (c.data.respondBy as number | undefined) ?? c.openedAt + 3 * DAY;

/**
 * Case referral (¶13, ¶15, ¶17, ¶3, ¶10): border police → prosecutor (prosecution), police → NGO
 * (protection of a smuggled migrant, at a tier without criminal intelligence), → return programme
 * (¶15). Protection and return need the migrant's recorded consent, and must state the special needs
 * of women and children (¶10) whenever a woman or a child is concerned ({@link specialNeedsGuard}).
 */
export const caseReferral: WorkflowDefinition = {
  name: 'case-referral',
  title: 'Case referral',
  paragraphs: '13,15,17,3,10',
  opens: {
    type: 'CaseReferral',
    key: (m) => `case-referral.${m.id}`,
    kind: (m) => enumTail(text(m.body, 'kind'), 'REFERRAL_KIND_'),
    initial: 'referred',
    guard: (m, ctx) => {
      const kind = enumTail(text(m.body, 'kind'), 'REFERRAL_KIND_');
      if (!text(m.body, 'kind')) return guardFail('a referral must say what it asks (kind: prosecution, protection, return or investigation)');
      if ((kind === 'protection' || kind === 'return') && !flag(m.body, 'consentRecorded')) {
        return guardFail(`a ${kind} referral needs the person's recorded informed consent (consent_recorded) (¶3, ¶15)`);
      }
      if (kind === 'return' && !text(m.body, 'returnCountry')) return guardFail('a return referral must name the country of return (return_country) (¶15)');
      return specialNeedsGuard(m.body, ctx.now);
    },
    apply: (c, m) => {
      const respondBy = time(m.body, 'respondBy');
      if (respondBy !== undefined) c.data.respondBy = respondBy;
    },
  },
  follows: ['ReferralAcknowledgement', 'ReferralDecision', 'ReferralUpdate', 'ReferralClosure'].map((type) => ({ type, link: byReference('referralId') })),
  states: {
    referred: { deadlines: [{ name: 'decision', party: 'requested', awaited: 'ReferralDecision', due: decisionDue, graceMs: DAY }] },
    acknowledged: { deadlines: [{ name: 'decision', party: 'requested', awaited: 'ReferralDecision', due: decisionDue, graceMs: DAY }] },
    accepted: { deadlines: [{ name: 'progress', party: 'requested', awaited: 'ReferralUpdate or ReferralClosure', due: (_c, now) => now + 30 * DAY, graceMs: 7 * DAY }] },
    'in-progress': { deadlines: [{ name: 'progress', party: 'requested', awaited: 'ReferralUpdate or ReferralClosure', due: (_c, now) => now + 30 * DAY, graceMs: 7 * DAY }] },
    declined: { terminal: true },
    closed: { terminal: true },
  },
  transitions: [
    { name: 'acknowledge', on: 'ReferralAcknowledgement', from: ['referred'], to: 'acknowledged', by: ['requested'] },
    { name: 'accept', on: 'ReferralDecision', when: isDecision('ACCEPTED'), from: ['referred', 'acknowledged'], to: 'accepted', by: ['requested'] },
    {
      name: 'decline',
      on: 'ReferralDecision',
      when: isDecision('DECLINED'),
      from: ['referred', 'acknowledged'],
      to: 'declined',
      by: ['requested'],
      guard: (_c, m) => (text(m.body, 'reason') ? undefined : guardFail('a declined referral must say why (reason)')),
    },
    {
      name: 'redirect',
      on: 'ReferralDecision',
      when: isDecision('REDIRECTED'),
      from: ['referred', 'acknowledged'],
      to: 'referred',
      by: ['requested'],
      guard: (c, m, ctx) => {
        const to = text(m.body, 'redirectedTo');
        if (!ctx.agencies.has(to)) return guardFail(`a redirect must name an agency of the federation (redirected_to "${to}")`);
        if (to === c.requester || to === c.requested) return guardFail(`cannot redirect to ${to}: it is already a party`);
        return undefined;
      },
      apply: (c, m, ctx) => {
        const to = text(m.body, 'redirectedTo');
        c.participants = [...new Set([...c.participants, c.requested])];
        c.requested = to;
        // The agency now in charge gets a fresh decision deadline.
        c.deadlines = [];
        c.data.respondBy = ctx.now + 3 * DAY;
        return { note: `redirected to ${to}` };
      },
    },
    { name: 'update', on: 'ReferralUpdate', from: ['accepted', 'in-progress'], to: 'in-progress', by: ['requested', 'requester'] },
    { name: 'close', on: 'ReferralClosure', from: ['accepted', 'in-progress'], to: 'closed', by: ['requested', 'requester'] },
  ],
  supervisor: 'analyst-centre',
};
