import type { CaseRecord, WorkflowDefinition } from '../model.ts';
import { DAY, byReference, enumTail, guardFail, list, text, time } from './read.ts';

const STATUS = 'EXECUTION_STATUS_';
const isStatus = (s: string) => (body: Record<string, unknown>) => text(body, 'status') === STATUS + s;
const URGENCY_DAYS: Record<string, number> = { immediate: 3, urgent: 14, routine: 60 };
const ASSET_MEASURES = ['MEASURE_FREEZING', 'MEASURE_CONFISCATION', 'MEASURE_TRACING_PROCEEDS'];

const responseDue = (c: CaseRecord) => c.data.deadline as number;
const completionDue = (c: CaseRecord, now: number) => (c.data.expectedCompletion as number | undefined) ?? now + 30 * DAY;
const ANSWERED = ['requested', 'information-requested', 'partially-executed', 'postponed'];

/**
 * A new expected completion date replaces the running completion deadline: a second partial
 * execution (or postponement) stays in its state, where the engine would otherwise keep the old one.
 */
function restartCompletion(c: CaseRecord, m: { body: Record<string, unknown> }): void {
  c.data.expectedCompletion = time(m.body, 'expectedCompletion');
  c.deadlines = c.deadlines.filter((d) => d.name !== 'completion');
}

/**
 * Mutual legal assistance request between central authorities (¶13, ¶9(c); UNTOC art. 18): a legal
 * basis, the measures requested (freezing and confiscation of proceeds need the assets concerned),
 * urgency and a response deadline; the requested state executes, executes in part, postpones,
 * refuses with reasons (art. 18(23)) or asks for more information.
 */
export const mlaRequest: WorkflowDefinition = {
  name: 'mla-request',
  title: 'Mutual legal assistance request',
  paragraphs: '13,9(c)',
  opens: {
    type: 'MutualLegalAssistanceRequest',
    key: (m) => `mla-request.${m.id}`,
    kind: (m) => enumTail(text(m.body, 'urgency') || 'URGENCY_ROUTINE', 'URGENCY_'),
    initial: 'requested',
    guard: (m) => {
      if (!text(m.body, 'legalBasis')) return guardFail('an MLA request must state its legal basis (legal_basis, e.g. "UNTOC art. 18") (¶13)');
      const measures = list(m.body, 'measures').map(String);
      if (measures.length === 0) return guardFail('an MLA request must list the measures requested (measures) (art. 18(3))');
      const assetMeasure = measures.find((x) => ASSET_MEASURES.includes(x));
      if (assetMeasure && list(m.body, 'assets').length === 0) {
        return guardFail(`${assetMeasure} needs the assets to trace, freeze or confiscate (assets) (¶9(c); UNTOC arts. 12–13)`);
      }
      return undefined;
    },
    apply: (c, m, ctx) => {
      c.data.deadline = time(m.body, 'deadline') ?? ctx.now + (URGENCY_DAYS[c.kind] ?? 60) * DAY;
      c.data.partialAccepted = m.body.partialExecutionAccepted === true;
      c.data.measures = list(m.body, 'measures').length;
    },
  },
  follows: [{ type: 'MutualLegalAssistanceResponse', link: byReference('requestId') }],
  states: {
    requested: { deadlines: [{ name: 'response', party: 'requested', awaited: 'MutualLegalAssistanceResponse', due: responseDue, graceMs: 7 * DAY }] },
    'information-requested': {
      deadlines: [{ name: 'information', party: 'requester', awaited: 'the further information requested', due: (_c, now) => now + 14 * DAY, graceMs: 7 * DAY }],
    },
    'partially-executed': { deadlines: [{ name: 'completion', party: 'requested', awaited: 'MutualLegalAssistanceResponse (rest of the measures)', due: completionDue, graceMs: 7 * DAY }] },
    postponed: { deadlines: [{ name: 'completion', party: 'requested', awaited: 'MutualLegalAssistanceResponse (after postponement)', due: completionDue, graceMs: 7 * DAY }] },
    executed: { terminal: true },
    refused: { terminal: true },
  },
  transitions: [
    { name: 'execute', on: 'MutualLegalAssistanceResponse', when: isStatus('EXECUTED'), from: ANSWERED, to: 'executed', by: ['requested'] },
    {
      name: 'execute-in-part',
      on: 'MutualLegalAssistanceResponse',
      when: isStatus('PARTIALLY_EXECUTED'),
      from: ANSWERED,
      to: 'partially-executed',
      by: ['requested'],
      apply: (c, m) => {
        restartCompletion(c, m);
        const executed = list(m.body, 'executedMeasures').length;
        return { note: `${executed} of ${c.data.measures as number} measures executed${c.data.partialAccepted ? '' : ' (the request did not ask for partial execution)'}` };
      },
    },
    {
      name: 'postpone',
      on: 'MutualLegalAssistanceResponse',
      when: isStatus('POSTPONED'),
      from: ANSWERED,
      to: 'postponed',
      by: ['requested'],
      guard: (_c, m) => (text(m.body, 'reasons') ? undefined : guardFail('a postponement must give reasons (art. 18(25))')),
      apply: (c, m) => {
        restartCompletion(c, m);
      },
    },
    {
      name: 'refuse',
      on: 'MutualLegalAssistanceResponse',
      when: isStatus('REFUSED'),
      from: ANSWERED,
      to: 'refused',
      by: ['requested'],
      guard: (_c, m) => (text(m.body, 'reasons') ? undefined : guardFail('a refusal of mutual legal assistance must give reasons (art. 18(23))')),
    },
    { name: 'ask-information', on: 'MutualLegalAssistanceResponse', when: isStatus('MORE_INFORMATION_NEEDED'), from: ANSWERED, to: 'information-requested', by: ['requested'] },
  ],
  supervisor: 'analyst-centre',
};
