import type { CaseItem, CaseRecord, Refusal, WorkflowDefinition, WorkflowMessage } from '../model.ts';
import { DAY, count, guardFail, keyToken, list, text, time } from './read.ts';

const OUTCOME = 'ENROLMENT_OUTCOME_';
const isOutcome = (o: string) => (body: Record<string, unknown>) => text(body, 'outcome') === OUTCOME + o;
const courseKey = (institute: string, code: string) => `training.${institute}.${keyToken(code)}`;

const confirmed = (c: CaseRecord) => c.items.filter((i) => i.state === 'confirmed' || i.state === 'completed');
const waiting = (c: CaseRecord) => c.items.filter((i) => i.state === 'waitlisted').sort((a, b) => a.order - b.order);

/**
 * The enrolment a decision or completion concerns: the request's header id (request_id, else causation
 * id) — a request of the agency the decision is addressed to. A message is (sender, id): another
 * agency's request with the same id is another enrolment.
 */
function enrolmentOf(c: CaseRecord, m: WorkflowMessage): CaseItem | undefined {
  const ref = text(m.body, 'requestId') || m.causationId;
  return c.items.find((i) => i.ref === ref && i.agency === m.recipient);
}

/** Guard: the decision names an enrolment of this course. */
function knownEnrolment(c: CaseRecord, m: WorkflowMessage): Refusal | undefined {
  return enrolmentOf(c, m) ? undefined : guardFail(`no enrolment ${text(m.body, 'requestId') || m.causationId || '(no request_id)'} on course ${c.kind}`);
}

function hasSeat(c: CaseRecord, agency: string): boolean {
  const seats = c.data.seats as number;
  const perAgency = c.data.seatsPerAgency as number;
  const taken = confirmed(c);
  return taken.length < seats && (perAgency === 0 || taken.filter((i) => i.agency === agency).length < perAgency);
}

/**
 * Training programme (¶8, ¶14, ¶20): an institute offers a course with seats to the federation;
 * eligible agencies enrol officials; seats are confirmed in request order (the order the exchange
 * received the requests) and the rest wait-listed; a declined seat goes to the first on the waiting
 * list whose agency is still under its per-agency limit; enrolment closes at `enrol_by`; the
 * institute reports completions.
 */
export const training: WorkflowDefinition = {
  name: 'training',
  title: 'Training course',
  paragraphs: '8,14,20',
  opens: {
    type: 'TrainingOffer',
    key: (m) => courseKey(m.sender, text(m.body, 'courseCode')),
    requested: (m) => m.sender,
    initial: 'open',
    guard: (m) => {
      if (!text(m.body, 'courseCode')) return guardFail('a training offer needs a course_code (enrolments name it)');
      if (count(m.body, 'seats') < 1) return guardFail('a training offer needs at least one seat (seats)');
      return undefined;
    },
    apply: (c, m, ctx) => {
      c.kind = text(m.body, 'courseCode');
      c.data.seats = count(m.body, 'seats');
      c.data.seatsPerAgency = count(m.body, 'seatsPerAgency');
      c.data.eligibleRoles = list(m.body, 'eligibleRoles').map(String);
      c.data.enrolBy = time(m.body, 'enrolBy') ?? time(m.body, 'startsAt') ?? ctx.now + 30 * DAY;
      c.data.endsAt = time(m.body, 'endsAt') ?? (c.data.enrolBy as number) + 30 * DAY;
      return { note: `${c.data.seats as number} seats`, notify: [m.sender] };
    },
  },
  follows: [
    { type: 'EnrolmentRequest', link: (m) => ({ key: courseKey(m.recipient, text(m.body, 'courseCode')) }) },
    { type: 'EnrolmentDecision', link: (m) => ({ key: courseKey(m.sender, text(m.body, 'courseCode')) }) },
    { type: 'TrainingCompleted', link: (m) => ({ key: courseKey(m.sender, text(m.body, 'courseCode')) }) },
  ],
  states: {
    open: { deadlines: [{ name: 'enrolment', party: 'requested', awaited: 'enrolments', due: (c) => c.data.enrolBy as number, graceMs: 0, expireTo: 'closed' }] },
    closed: { deadlines: [{ name: 'completion-report', party: 'requested', awaited: 'TrainingCompleted for every confirmed trainee', due: (c) => (c.data.endsAt as number) + 7 * DAY, graceMs: 7 * DAY }] },
    completed: { terminal: true },
  },
  transitions: [
    {
      name: 'enrol',
      on: 'EnrolmentRequest',
      from: ['open'],
      to: 'open',
      by: ['newcomer'],
      guard: (c, m) => {
        const eligible = c.data.eligibleRoles as string[];
        const role = text(m.body, 'traineeRole');
        if (eligible.length > 0 && !eligible.includes(role)) {
          return guardFail(`the course is open to ${eligible.join(', ')}; the trainee's role is ${role || 'not stated'}`);
        }
        return undefined;
      },
      apply: (c, m) => {
        const seat = hasSeat(c, m.sender);
        const item: CaseItem = { ref: m.id, agency: m.sender, state: seat ? 'confirmed' : 'waitlisted', order: c.items.length + 1 };
        c.items.push(item);
        if (!c.participants.includes(m.sender)) c.participants.push(m.sender);
        const note = seat ? `seat confirmed (${confirmed(c).length} of ${c.data.seats as number})` : `waiting list position ${waiting(c).length}`;
        return { itemRef: m.id, itemState: item.state, note, notify: [m.sender, c.requested] };
      },
    },
    {
      name: 'decline-enrolment',
      on: 'EnrolmentDecision',
      when: isOutcome('DECLINED'),
      from: ['open', 'closed'],
      to: (c) => c.state,
      by: ['requested'],
      guard: knownEnrolment,
      apply: (c, m) => {
        const item = enrolmentOf(c, m)!;
        const hadSeat = item.state === 'confirmed';
        item.state = 'declined';
        const also = [];
        // The first on the waiting list who may take the seat (one whose agency has reached its
        // per-agency limit waits on, without blocking those behind it).
        const next = hadSeat ? waiting(c).find((i) => hasSeat(c, i.agency)) : undefined;
        if (next) {
          next.state = 'confirmed';
          also.push({ itemRef: next.ref, itemState: 'confirmed', note: `seat confirmed from the waiting list (${confirmed(c).length} of ${c.data.seats as number})`, notify: [next.agency, c.requested] });
        }
        return { itemRef: item.ref, itemState: 'declined', note: `enrolment declined${text(m.body, 'reason') ? `: ${text(m.body, 'reason')}` : ''}`, notify: [item.agency, c.requested], also };
      },
    },
    {
      name: 'confirm-enrolment',
      on: 'EnrolmentDecision',
      when: isOutcome('ACCEPTED'),
      from: ['open', 'closed'],
      to: (c) => c.state,
      by: ['requested'],
      guard: knownEnrolment,
      apply: (c, m) => {
        const item = enrolmentOf(c, m)!;
        const extra = item.state === 'waitlisted';
        item.state = 'confirmed';
        return { itemRef: item.ref, itemState: 'confirmed', note: extra ? 'seat confirmed by the institute beyond the offered seats' : 'seat confirmed', notify: [item.agency, c.requested] };
      },
    },
    {
      name: 'complete',
      on: 'TrainingCompleted',
      from: ['open', 'closed'],
      to: (c) => (c.state === 'closed' && confirmed(c).every((i) => i.state === 'completed') ? 'completed' : c.state),
      by: ['requested'],
      guard: (c, m) => {
        const item = enrolmentOf(c, m);
        if (!item) return guardFail('TrainingCompleted must name the enrolment request it completes (header causation_id)');
        return item.state === 'confirmed' ? undefined : guardFail(`enrolment ${item.ref} is ${item.state}, not confirmed`);
      },
      apply: (c, m) => {
        const item = enrolmentOf(c, m)!;
        item.state = 'completed';
        return { itemRef: item.ref, itemState: 'completed', note: 'course completed', notify: [item.agency, c.requested] };
      },
    },
  ],
  supervisor: 'analyst-centre',
};
