import type { WorkflowDefinition } from '../model.ts';
import { DAY, byReference, enumTail, flag, guardFail, text, time } from './read.ts';

const DECISION = 'EXTRADITION_DECISION_';
const isDecision = (...d: string[]) => (body: Record<string, unknown>) => d.map((x) => DECISION + x).includes(text(body, 'decision'));
const OPEN = ['requested', 'postponed'];

/**
 * Extradition request for art. 6 offences (¶13; UNTOC art. 16): granted (with or without
 * conditions), refused with a ground — on nationality, with the case submitted for domestic
 * prosecution (art. 16(10)) —, postponed, or the person not found. Provisional arrest shortens the
 * default deadline.
 */
export const extradition: WorkflowDefinition = {
  name: 'extradition',
  title: 'Extradition request',
  paragraphs: '13',
  opens: {
    type: 'ExtraditionRequest',
    key: (m) => `extradition.${m.id}`,
    kind: (m) => enumTail(text(m.body, 'urgency') || 'URGENCY_ROUTINE', 'URGENCY_'),
    initial: 'requested',
    guard: (m) => (text(m.body, 'legalBasis') ? undefined : guardFail('an extradition request must state its legal basis (legal_basis, e.g. "UNTOC art. 16") (¶13)')),
    apply: (c, m, ctx) => {
      c.data.deadline = time(m.body, 'deadline') ?? ctx.now + (flag(m.body, 'provisionalArrestRequested') ? 2 : 60) * DAY;
    },
  },
  follows: [{ type: 'ExtraditionResponse', link: byReference('requestId') }],
  states: {
    requested: { deadlines: [{ name: 'decision', party: 'requested', awaited: 'ExtraditionResponse', due: (c) => c.data.deadline as number, graceMs: 7 * DAY }] },
    postponed: { deadlines: [{ name: 'decision', party: 'requested', awaited: 'ExtraditionResponse (after postponement)', due: (_c, now) => now + 60 * DAY, graceMs: 14 * DAY }] },
    granted: { terminal: true },
    refused: { terminal: true },
    'person-not-found': { terminal: true },
  },
  transitions: [
    {
      name: 'grant',
      on: 'ExtraditionResponse',
      when: isDecision('GRANTED', 'GRANTED_WITH_CONDITIONS'),
      from: OPEN,
      to: 'granted',
      by: ['requested'],
      apply: (_c, m) => ({ note: text(m.body, 'decision') === `${DECISION}GRANTED_WITH_CONDITIONS` ? 'granted with conditions' : 'granted' }),
    },
    {
      name: 'refuse',
      on: 'ExtraditionResponse',
      when: isDecision('REFUSED'),
      from: OPEN,
      to: 'refused',
      by: ['requested'],
      guard: (_c, m) => (text(m.body, 'ground') ? undefined : guardFail('a refusal of extradition must state its ground (ground)')),
      apply: (_c, m) => ({ note: flag(m.body, 'submittedForDomesticProsecution') ? 'refused; submitted for domestic prosecution (art. 16(10))' : 'refused' }),
    },
    { name: 'postpone', on: 'ExtraditionResponse', when: isDecision('POSTPONED'), from: ['requested'], to: 'postponed', by: ['requested'] },
    { name: 'not-found', on: 'ExtraditionResponse', when: isDecision('PERSON_NOT_FOUND'), from: OPEN, to: 'person-not-found', by: ['requested'] },
  ],
  supervisor: 'analyst-centre',
};
