import { describe, expect, it } from 'vitest';
import { caseReferral, training } from '../services/workflows/definitions/index.ts';
import { DAY } from '../services/workflows/definitions/read.ts';
import { dueDeadlines, openCase } from '../services/workflows/engine.ts';
import type { CaseRecord, WorkflowDefinition, WorkflowMessage } from '../services/workflows/model.ts';

/**
 * Workflow deadlines at exactly their due time and at due + grace (issue 12, finding 7): the reminder
 * is sent at `dueAt` (not 1 ms before), the escalation at `dueAt + graceMs` (not 1 ms before), and a
 * deadline that moves the case on (a course closing for enrolment) does so at `dueAt`. Each test fails
 * when the engine's comparison is weakened (`>=` → `>`) or tightened.
 */

const OPENED = Date.parse('2026-11-02T09:00:00.000Z');
const RESPOND_BY = Date.parse('2026-11-06T17:00:00.123Z');
const SUPERVISORS = ['mac-centre'];
const ctx = { now: OPENED, agencies: new Set(['xa-border-police', 'xa-ngo-harbour', 'xc-training', 'mac-centre', 'mac-cases']) };

function message(type: string, sender: string, recipient: string, body: Record<string, unknown>): WorkflowMessage {
  return { id: '0190a5c8-0000-7000-8000-00000000000a', type, sender, recipient, externalRef: '', causationId: '', kid: 'k', createdAt: OPENED, body };
}

function opened(def: WorkflowDefinition, m: WorkflowMessage): CaseRecord {
  const r = openCase(def, def.opens.key(m), m, ctx);
  if (!r.ok) throw new Error(`case did not open: ${r.refusal.reason}`);
  return { ...r.record, outbox: [] };
}

/** What ticking the deadlines at `now` produces: notice types by recipient, the state, or nothing. */
function tick(def: WorkflowDefinition, c: CaseRecord, now: number): { record: CaseRecord; notices: string[] } | undefined {
  const next = dueDeadlines(def, c, now, SUPERVISORS, 'mac-cases', 'registry-kid');
  if (!next) return undefined;
  return { record: next, notices: next.outbox.slice(c.outbox.length).map((o) => `${o.type}→${o.to}`) };
}

describe('a referral decision deadline (due at respond_by, escalated one day later)', () => {
  const referral = () =>
    opened(
      caseReferral,
      message('CaseReferral', 'xa-border-police', 'xa-ngo-harbour', { kind: 'REFERRAL_KIND_PROTECTION', consentRecorded: true, respondBy: new Date(RESPOND_BY).toISOString() }),
    );

  it('runs at the respond_by of the referral, with one day of grace', () => {
    const c = referral();
    expect(c.deadlines).toMatchObject([{ name: 'decision', party: 'xa-ngo-harbour', dueAt: RESPOND_BY, graceMs: DAY }]);
  });

  it('nothing is due 1 ms before the due time; the reminder goes to the party at exactly the due time', () => {
    const c = referral();
    expect(tick(caseReferral, c, RESPOND_BY - 1)).toBeUndefined();
    const at = tick(caseReferral, c, RESPOND_BY)!;
    expect(at.notices).toEqual(['WorkflowReminder→xa-ngo-harbour']);
    expect(at.record.deadlines[0]).toMatchObject({ reminded: true, escalated: false });
  });

  it('after the reminder, nothing more 1 ms before due + grace; the escalation to the supervisors at exactly due + grace', () => {
    const reminded = tick(caseReferral, referral(), RESPOND_BY)!.record;
    expect(tick(caseReferral, reminded, RESPOND_BY + DAY - 1)).toBeUndefined();
    const at = tick(caseReferral, reminded, RESPOND_BY + DAY)!;
    expect(at.notices).toEqual(['WorkflowEscalation→mac-centre']);
    expect(at.record.deadlines[0]).toMatchObject({ reminded: true, escalated: true });
    expect(tick(caseReferral, at.record, RESPOND_BY + 30 * DAY)).toBeUndefined();
  });

  it('a first tick 1 ms before due + grace reminds without escalating; a first tick at due + grace does both', () => {
    expect(tick(caseReferral, referral(), RESPOND_BY + DAY - 1)!.notices).toEqual(['WorkflowReminder→xa-ngo-harbour']);
    expect(tick(caseReferral, referral(), RESPOND_BY + DAY)!.notices).toEqual(['WorkflowReminder→xa-ngo-harbour', 'WorkflowEscalation→mac-centre']);
  });
});

describe('a course closing for enrolment (a deadline that moves the case on, no grace)', () => {
  const ENROL_BY = Date.parse('2026-12-01T00:00:00.000Z');
  const course = () =>
    opened(
      training,
      message('TrainingOffer', 'xc-training', 'all', { courseCode: 'DOC-FRAUD-1', seats: 10, enrolBy: new Date(ENROL_BY).toISOString(), endsAt: '2026-12-20T00:00:00.000Z' }),
    );

  it('is still open 1 ms before enrol_by and closed at exactly enrol_by', () => {
    const c = course();
    expect(c.state).toBe('open');
    expect(tick(training, c, ENROL_BY - 1)).toBeUndefined();
    const at = tick(training, c, ENROL_BY)!;
    expect(at.record.state).toBe('closed');
    expect(at.record.timeline.at(-1)).toMatchObject({ transition: 'deadline:enrolment', from: 'open', to: 'closed', appliedAt: ENROL_BY });
  });
});
