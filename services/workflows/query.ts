import type { Reply } from '../sdk/client/rpc.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { nextDeadline, partiesOf } from './engine.ts';
import type { CaseRecord } from './model.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What `asker` may see of a case: everything for its parties and escalated supervisors, except that
 * on a training course an enrolling agency sees only its own enrolments (not who else enrolled).
 */
export function viewFor(c: CaseRecord, asker: string): CaseRecord | undefined {
  const party = partiesOf(c).includes(asker) || c.supervisors.includes(asker);
  if (!party) return undefined;
  if (c.workflow !== 'training' || asker === c.requested || asker === c.requester) return c;
  const mine = new Set(c.items.filter((i) => i.agency === asker).map((i) => i.ref));
  return {
    ...c,
    participants: [asker],
    items: c.items.filter((i) => mine.has(i.ref)),
    timeline: c.timeline.filter((s) => !s.itemRef || mine.has(s.itemRef)),
  };
}

/** The CaseQueryResult body for one asker: its cases, filtered, most recently updated first. */
export function caseQueryResult(cases: readonly CaseRecord[], asker: string, q: Record<string, unknown>): Record<string, unknown> {
  const str = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : '');
  const limit = Math.min(Math.max(Number(q.limit ?? 0) || DEFAULT_LIMIT, 1), MAX_LIMIT);
  // Waiting-list positions count every enrolment of the course, also those the asker may not see.
  const positions = new Map<string, number>();
  const matching = cases
    .filter((c) => (!str('caseRef') || c.ref === str('caseRef')) && (!str('state') || c.state === str('state')))
    .filter((c) => (!str('kind') || c.kind === str('kind')) && (!str('workflow') || c.workflow === str('workflow')))
    .map((c) => {
      c.items
        .filter((i) => i.state === 'waitlisted')
        .sort((a, b) => a.order - b.order)
        .forEach((i, n) => positions.set(`${c.ref}\u0000${i.ref}`, n + 1));
      return viewFor(c, asker);
    })
    .filter((c): c is CaseRecord => c !== undefined)
    .sort((a, b) => b.updatedAt - a.updatedAt);
  return {
    cases: matching.slice(0, limit).map((c) => {
      const next = nextDeadline(c);
      return {
        caseRef: c.ref,
        workflow: c.workflow,
        kind: c.kind,
        state: c.state,
        requester: c.requester,
        requested: c.requested,
        participants: c.participants,
        externalRef: c.externalRef,
        openedAt: iso(c.openedAt),
        updatedAt: iso(c.updatedAt),
        ...(next ? { nextDeadline: iso(next.dueAt), nextDeadlineParty: next.party || 'pending parties' } : {}),
        timeline: c.timeline.map((s) => ({
          messageId: s.messageId,
          messageType: s.messageType,
          transition: s.transition,
          fromState: s.from,
          toState: s.to,
          actor: s.actor,
          signedBy: s.signedBy,
          sentAt: iso(s.sentAt),
          appliedAt: iso(s.appliedAt),
          // A step whose message its sender retracted stays, marked (CaseStep.retracted).
          note: s.retracted ? `${s.note ? `${s.note} ` : ''}[RETRACTED by its sender${s.retracted.reason ? `: ${s.retracted.reason}` : ''}${s.retracted.replacedBy ? `; replaced by ${s.retracted.replacedBy}` : ''}]` : s.note,
          itemRef: s.itemRef ?? '',
        })),
        items: c.items.map((i) => ({ ref: i.ref, agency: i.agency, state: i.state, position: positions.get(`${c.ref}\u0000${i.ref}`) ?? 0 })),
        revision: String(c.timeline.length),
      };
    }),
    truncated: matching.length > limit,
  };
}

/** Answer a CaseQuery request (the asker is the verified sender of the signed request). */
export function answerCaseQuery(cases: readonly CaseRecord[], req: ReceivedMessage): Reply {
  return { type: 'CaseQueryResult', body: caseQueryResult(cases, req.header.sender, req.body) };
}
