import { openCase, partiesOf, stateChange, WITHDRAWN_STATE, type Applied } from './engine.ts';
import { isStepOf } from './identity.ts';
import type { CaseRecord, CaseStep, TransitionContext, WorkflowDefinition, WorkflowMessage } from './model.ts';

/**
 * How the case registry follows a retraction (issue 6): the sender of a message the registry applied
 * withdraws it (a signed `Retraction`, body `{originalId, originalType, reason, replacedBy}`), and
 * what depended on the message is dropped or recomputed:
 * - the case's **opening** message: the case is withdrawn ({@link WITHDRAWN_STATE}, terminal), its
 *   data, items and deadlines dropped; a correction (the replacement names the original as its
 *   causation) re-opens it under the same key, history kept;
 * - the case's **latest** transition: undone — state, parties, data, items and deadlines as they
 *   were before it (a refusal sent in error re-opens the case); its correction then applies normally;
 * - an **earlier** transition, with later steps built on it: the registry cannot replay the later
 *   messages (it keeps no bodies), so the step is marked retracted and the parties are told which
 *   later steps stand on it, to confirm or correct.
 * In every case the retracted step stays in the timeline, marked, and the parties get a signed
 * WorkflowStateChange (transition `retract`). Only the original's sender may retract it: the
 * broker lets any agency send a Retraction, so the registry checks the sender against the step.
 *
 * @module
 */

/** A Retraction as the registry sees it. */
export interface RetractionFacts {
  /** The Retraction's own header id. */
  id: string;
  sender: string;
  kid: string;
  createdAt: number;
  originalId: string;
  reason: string;
  /** For a correction: the id of the replacement. */
  replacedBy: string;
}

/** What a retraction does to a case. */
export type RetractionOutcome = Applied | { ok: 'none'; reason: string };

const isMessageStep = (s: CaseStep) => s.messageId !== '' && !s.transition.endsWith(':effect');

/** Index of the case's latest message step (the one its undo record reverts). */
const lastMessageStep = (c: CaseRecord) => c.timeline.findLastIndex(isMessageStep);

/** Read a received Retraction. */
export function retractionFacts(m: WorkflowMessage): RetractionFacts {
  return {
    id: m.id,
    sender: m.sender,
    kid: m.kid,
    createdAt: m.createdAt,
    originalId: String(m.body.originalId ?? ''),
    reason: String(m.body.reason ?? ''),
    replacedBy: String(m.body.replacedBy ?? ''),
  };
}

/** Apply a retraction of one of the case's messages (see the module comment). */
export function retractFromCase(c: CaseRecord, r: RetractionFacts, ctx: TransitionContext): RetractionOutcome {
  // The original is the Retraction's sender's own message: another sender's step with the same id is another message.
  const own = c.timeline.findIndex((s) => isStepOf(s, r.sender, r.originalId) && isMessageStep(s));
  const idx = own >= 0 ? own : c.timeline.findIndex((s) => s.messageId === r.originalId && isMessageStep(s));
  if (idx < 0) return { ok: 'none', reason: `case ${c.ref} applied no message ${r.originalId}` };
  const original = c.timeline[idx]!;
  if (original.actor !== r.sender) {
    return {
      ok: false,
      refusal: { code: 'ERR_RETRACT_NOT_SENDER', reason: `${r.originalId} (${original.messageType} on case ${c.ref}) was sent by ${original.actor}, not ${r.sender}: only its sender may retract it` },
      allowedNow: [],
    };
  }
  if (original.retracted) return { ok: 'none', reason: `${r.originalId} is already retracted on case ${c.ref}` };
  const next = structuredClone(c);
  next.timeline[idx]!.retracted = { by: r.id, at: ctx.now, reason: r.reason, ...(r.replacedBy ? { replacedBy: r.replacedBy } : {}) };
  const from = next.state;
  const why = `${original.messageType} ${r.originalId} retracted by ${r.sender}${r.reason ? ` (${r.reason})` : ''}${r.replacedBy ? `, replaced by ${r.replacedBy}` : ''}`;
  const notify = new Set(partiesOf(c));
  let note: string;
  if (original.transition === 'open') {
    next.state = WITHDRAWN_STATE;
    next.data = {};
    next.items = [];
    next.deadlines = [];
    delete next.undo;
    note = `${why}: the case is withdrawn`;
  } else if (next.undo?.messageId === r.originalId && idx === lastMessageStep(c)) {
    const u = next.undo;
    next.state = u.state;
    next.participants = u.participants;
    next.data = u.data;
    next.items = u.items;
    next.deadlines = u.deadlines;
    delete next.undo;
    // Agencies whose item the undone step changed (an enrolment decided, a promotion) hear of it too.
    const before = new Map(c.items.map((i) => [i.ref, i.state]));
    for (const i of next.items) if (before.get(i.ref) !== i.state) notify.add(i.agency);
    for (const i of c.items) if (!next.items.some((x) => x.ref === i.ref)) notify.add(i.agency);
    note = `${why}: its transition ${original.transition} (${original.from} → ${original.to}) is undone`;
  } else {
    const later = next.timeline.slice(idx + 1).filter((s) => isMessageStep(s) && !s.retracted);
    const laterNote = later.length ? `; ${later.length} later step(s) stand on it (${later.map((s) => s.messageType).join(', ')}): the parties should confirm or correct them` : '';
    note = `${why}: the case has moved on since, so the step is marked retracted and the state stays ${from}${laterNote}`;
  }
  for (const p of partiesOf(next)) notify.add(p);
  const step: CaseStep = {
    messageId: r.id,
    messageType: 'Retraction',
    transition: 'retract',
    from,
    to: next.state,
    actor: r.sender,
    signedBy: r.kid,
    sentAt: r.createdAt,
    appliedAt: ctx.now,
    note,
  };
  next.timeline.push(step);
  next.applied.push(r.id);
  next.updatedAt = ctx.now;
  next.outbox.push(...[...notify].filter((a) => a && a !== 'all').map((to) => stateChange(next, step, to)));
  return { ok: true, record: next, step };
}

/**
 * True when `m` replaces a message of the case that is still in force: same type and sender, naming it
 * as its causation. `liaison correct` sends the replacement before the Retraction, and each travels on
 * its own consumer, so a replacement the case refuses now waits (briefly) for the Retraction.
 */
export function awaitsRetraction(c: CaseRecord, m: WorkflowMessage): boolean {
  return !!m.causationId && c.timeline.some((s) => s.messageId === m.causationId && isMessageStep(s) && !s.retracted && s.actor === m.sender && s.messageType === m.type);
}

/** True when `m` is the correction of the case's opening message, still in force (its Retraction is on the way). */
export function correctsOpening(c: CaseRecord, m: WorkflowMessage): boolean {
  return !!m.causationId && c.timeline.some((s) => s.transition === 'open' && s.messageId === m.causationId && !s.retracted && s.actor === m.sender && s.messageType === m.type);
}

/** True when `m` is the correction of the withdrawn case's opening message. */
export function reopens(c: CaseRecord, m: WorkflowMessage): boolean {
  return c.state === WITHDRAWN_STATE && !!m.causationId && c.timeline.some((s) => s.transition === 'open' && s.messageId === m.causationId && s.retracted && s.actor === m.sender && s.messageType === m.type);
}

/** Re-open a withdrawn case with the correction of its opening message (the history stays). */
export function reopenCase(def: WorkflowDefinition, c: CaseRecord, m: WorkflowMessage, ctx: TransitionContext): Applied {
  const opened = openCase(def, c.ref, m, ctx);
  if (!opened.ok) return opened;
  const record: CaseRecord = {
    ...opened.record,
    openedAt: c.openedAt,
    timeline: [...c.timeline, ...opened.record.timeline],
    applied: [...c.applied, ...opened.record.applied],
    supervisors: c.supervisors,
    outbox: [...c.outbox, ...opened.record.outbox],
  };
  return { ok: true, record, step: opened.step };
}
