import { derivedUuidv7 } from '../sdk/ids.ts';
import type {
  CaseDeadline,
  CaseRecord,
  CaseStep,
  OutboxEntry,
  PartyName,
  Refusal,
  TransitionContext,
  TransitionResult,
  TransitionSpec,
  WorkflowDefinition,
  WorkflowMessage,
} from './model.ts';

/** The case registry as an agency: actor of deadline transitions. */
export const DEADLINE_ACTOR = 'case-registry';

/**
 * The state of a case whose opening message its sender retracted: terminal in every workflow (the
 * engine's, not a definition's); what the opening message brought is dropped. A correction of the
 * opening message re-opens the case under the same key (see retraction.ts).
 */
export const WITHDRAWN_STATE = 'withdrawn';

/** True when the case accepts no further transition. */
export function isTerminal(def: WorkflowDefinition, state: string): boolean {
  return state === WITHDRAWN_STATE || def.states[state]?.terminal === true;
}

/** How a message relates to the definitions: it opens a case, or follows one. */
export type Route =
  | { def: WorkflowDefinition; opens: true; key: string }
  | { def: WorkflowDefinition; opens: false; key?: string; messageId?: string };

/** The outcome of applying one message: the new record (with its notices in the outbox), or a refusal. */
export type Applied = { ok: true; record: CaseRecord; step: CaseStep } | { ok: false; refusal: Refusal; allowedNow: string[] };

/** Which definition a message type belongs to, and how it finds its case; undefined for types no definition names. */
export function routeMessage(defs: readonly WorkflowDefinition[], m: WorkflowMessage): Route | undefined {
  for (const def of defs) {
    if (def.opens.type === m.type) return { def, opens: true, key: def.opens.key(m) };
    const follow = def.follows.find((f) => f.type === m.type && (f.applies?.(m) ?? true));
    if (follow) return { def, opens: false, ...follow.link(m) };
  }
  return undefined;
}

/** Every agency with a part in the case (requester, requested, participants), without repeats. */
export function partiesOf(c: CaseRecord): string[] {
  return [...new Set([c.requester, c.requested, ...c.participants].filter((a) => a && a !== 'all'))];
}

function isParty(c: CaseRecord, agency: string, as: PartyName): boolean {
  switch (as) {
    case 'requester':
      return c.requester === agency;
    case 'requested':
      return c.requested === agency;
    case 'participant':
      return c.participants.includes(agency);
    case 'newcomer':
      return agency !== c.requester && agency !== c.requested;
  }
}

function refuse(code: Refusal['code'], reason: string, allowedNow: string[] = []): Applied {
  return { ok: false, refusal: { code, reason }, allowedNow };
}

/** Open a case from its opening message, or refuse it. */
export function openCase(def: WorkflowDefinition, key: string, m: WorkflowMessage, ctx: TransitionContext): Applied {
  const problem = def.opens.guard?.(m, ctx);
  if (problem) return refuse(problem.code, problem.reason);
  const requested = def.opens.requested?.(m) ?? m.recipient;
  if (requested === 'all') return refuse('ERR_WORKFLOW_GUARD', `${m.type} opens a ${def.name} case and must be addressed to the agency asked to act`);
  const record: CaseRecord = {
    ref: key,
    workflow: def.name,
    kind: def.opens.kind?.(m) ?? '',
    state: '',
    requester: m.sender,
    requested,
    participants: (def.opens.participants?.(m) ?? []).filter((p) => p !== m.sender && p !== requested),
    externalRef: m.externalRef,
    openedAt: ctx.now,
    updatedAt: ctx.now,
    data: {},
    items: [],
    timeline: [],
    deadlines: [],
    applied: [],
    supervisors: [],
    outbox: [],
  };
  const result = def.opens.apply?.(record, m, ctx) ?? {};
  return commit(def, record, '', m, ctx, { name: 'open' }, def.opens.initial, result);
}

/** The message types `agency` may send on the case now. */
export function allowedNow(def: WorkflowDefinition, c: CaseRecord, agency: string): string[] {
  if (isTerminal(def, c.state)) return [];
  const types = def.transitions.filter((t) => t.from.includes(c.state) && t.by.some((p) => isParty(c, agency, p))).map((t) => t.on);
  return [...new Set(types)];
}

/**
 * Apply a follow-up message to its case: the first transition for the type (and body) whose source
 * state is the case's state; refused when the case is closed, the state does not allow it, the
 * sender is not the party the transition names, or the definition's guard says no.
 */
export function applyMessage(def: WorkflowDefinition, c: CaseRecord, m: WorkflowMessage, ctx: TransitionContext): Applied {
  const allowed = allowedNow(def, c, m.sender);
  const forType = def.transitions.filter((t) => t.on === m.type && (!t.when || t.when(m.body)));
  if (forType.length === 0) return refuse('ERR_WORKFLOW_ILLEGAL_TRANSITION', `${def.name} has no transition for this ${m.type}`, allowed);
  const parties = partiesOf(c);
  const newcomerOk = forType.some((t) => t.by.includes('newcomer'));
  if (!parties.includes(m.sender) && !newcomerOk) {
    return refuse('ERR_WORKFLOW_NOT_A_PARTY', `${m.sender} is not a party to case ${c.ref} (parties: ${parties.join(', ')})`, allowed);
  }
  if (isTerminal(def, c.state)) {
    return refuse('ERR_WORKFLOW_CASE_CLOSED', `case ${c.ref} is closed (${c.state}); ${m.type} changes nothing`, allowed);
  }
  const fromState = forType.filter((t) => t.from.includes(c.state));
  if (fromState.length === 0) {
    const states = [...new Set(forType.flatMap((t) => t.from))].join(', ');
    return refuse('ERR_WORKFLOW_ILLEGAL_TRANSITION', `${m.type} is not allowed in state ${c.state} of case ${c.ref} (allowed in: ${states})`, allowed);
  }
  const t = fromState.find((x) => x.by.some((p) => isParty(c, m.sender, p)));
  if (!t) {
    const who = [...new Set(fromState.flatMap((x) => x.by))].join(' or ');
    return refuse('ERR_WORKFLOW_WRONG_PARTY', `only the ${who} may send ${m.type} in state ${c.state} of case ${c.ref}; ${m.sender} may not`, allowed);
  }
  const next = structuredClone(c);
  const problem = t.guard?.(next, m, ctx);
  if (problem) return refuse(problem.code, problem.reason, allowed);
  // What the case was before: restored if the sender retracts this message while nothing is built on it.
  next.undo = { messageId: m.id, state: c.state, participants: [...c.participants], data: structuredClone(c.data), items: structuredClone(c.items), deadlines: structuredClone(c.deadlines) };
  const from = next.state;
  const result = t.apply?.(next, m, ctx) ?? {};
  const to = typeof t.to === 'string' ? t.to : t.to(next, m);
  return commit(def, next, from, m, ctx, t, to, result);
}

function commit(
  def: WorkflowDefinition,
  c: CaseRecord,
  from: string,
  m: WorkflowMessage,
  ctx: TransitionContext,
  t: Pick<TransitionSpec, 'name'>,
  to: string,
  result: TransitionResult,
): Applied {
  const step: CaseStep = {
    messageId: m.id,
    messageType: m.type,
    transition: t.name,
    from,
    to,
    actor: m.sender,
    signedBy: m.kid,
    sentAt: m.createdAt,
    appliedAt: ctx.now,
    note: result.note ?? '',
    ...(result.itemRef ? { itemRef: result.itemRef } : {}),
  };
  c.state = to;
  c.updatedAt = ctx.now;
  c.timeline.push(step);
  c.applied.push(m.id);
  enterState(def, c, from, ctx.now);
  const notify = result.notify ?? partiesOf(c);
  c.outbox.push(...notify.map((to) => stateChange(c, step, to, result.itemState)));
  for (const [i, extra] of (result.also ?? []).entries()) {
    const s: CaseStep = { ...step, transition: `${t.name}:effect`, note: extra.note, itemRef: extra.itemRef, from: c.state, to: c.state };
    c.timeline.push(s);
    c.outbox.push(...extra.notify.map((to) => stateChange(c, s, to, extra.itemState, String(i))));
  }
  return { ok: true, record: c, step };
}

/**
 * Deadlines follow the state: entering a state starts its deadlines afresh; staying in it keeps the
 * running ones (a transition may clear them to restart them, e.g. a redirect to a new agency).
 */
function enterState(def: WorkflowDefinition, c: CaseRecord, from: string, now: number): void {
  c.deadlines = from === c.state ? c.deadlines.filter((d) => d.state === c.state) : [];
  for (const spec of def.states[c.state]?.deadlines ?? []) {
    if (c.deadlines.some((d) => d.name === spec.name)) continue;
    c.deadlines.push({
      name: spec.name,
      state: c.state,
      party: spec.party === 'requester' ? c.requester : spec.party === 'requested' ? c.requested : '',
      ...(spec.party === 'pending' ? { pending: true as const } : {}),
      awaited: spec.awaited,
      dueAt: spec.due(c, now),
      graceMs: spec.graceMs,
      reminded: false,
      escalated: false,
      ...(spec.expireTo ? { expireTo: spec.expireTo } : {}),
    });
  }
}

/** The earliest deadline of the case, for notices. */
export function nextDeadline(c: CaseRecord): CaseDeadline | undefined {
  return [...c.deadlines].sort((a, b) => a.dueAt - b.dueAt)[0];
}

export function stateChange(c: CaseRecord, step: CaseStep, to: string, itemState?: string, salt = ''): OutboxEntry {
  const next = nextDeadline(c);
  const cause = step.messageId || c.ref;
  return {
    // From the step's message, (sender, id): another party's message with the same id gets notices of its own.
    id: derivedUuidv7(cause, 'state', step.actor, c.ref, step.transition, step.itemRef ?? '', salt, to),
    type: 'WorkflowStateChange',
    to,
    body: {
      caseRef: c.ref,
      workflow: c.workflow,
      kind: c.kind,
      fromState: step.from,
      toState: step.to,
      transition: step.transition,
      causeMessageId: step.messageId,
      causeType: step.messageType,
      actor: step.actor,
      at: new Date(step.appliedAt).toISOString(),
      parties: partiesOf(c),
      ...(next ? { nextDeadline: new Date(next.dueAt).toISOString(), nextDeadlineParty: next.party } : {}),
      note: step.note,
      itemRef: step.itemRef ?? '',
      itemState: itemState ?? '',
      revision: String(c.timeline.length),
    },
  };
}

/**
 * Deadlines that have passed at `now`: a deadline with `expireTo` moves the case on; others send a
 * reminder to the party at the due time and an escalation to the supervisors after the grace period.
 * Returns the changed record (notices in its outbox), or undefined when nothing is due.
 */
export function dueDeadlines(def: WorkflowDefinition, c: CaseRecord, now: number, supervisors: readonly string[], registry: string, registryKid: string): CaseRecord | undefined {
  const due = c.deadlines.filter((d) => now >= d.dueAt && (d.expireTo ? true : !d.reminded || (!d.escalated && now >= d.dueAt + d.graceMs)));
  if (due.length === 0) return undefined;
  const next = structuredClone(c);
  for (const d of due) {
    const dl = next.deadlines.find((x) => x.name === d.name && x.state === d.state)!;
    const base = derivedUuidv7(d.dueAt, c.ref, d.state, d.name);
    if (d.expireTo) {
      const step: CaseStep = {
        messageId: '',
        messageType: '',
        transition: `deadline:${d.name}`,
        from: next.state,
        to: d.expireTo,
        actor: registry,
        signedBy: registryKid,
        sentAt: now,
        appliedAt: now,
        note: `${d.awaited}: deadline passed`,
      };
      const from = next.state;
      // The case moved on by itself: the last message's transition can no longer simply be undone.
      delete next.undo;
      next.state = d.expireTo;
      next.updatedAt = now;
      next.timeline.push(step);
      enterState(def, next, from, now);
      next.outbox.push(...partiesOf(next).map((to) => ({ ...stateChange(next, step, to), id: derivedUuidv7(base, 'expire', to) })));
      continue;
    }
    const facts = { caseRef: c.ref, workflow: c.workflow, state: c.state, awaited: d.awaited, dueAt: new Date(d.dueAt).toISOString(), deadline: d.name };
    const owing = d.pending ? next.items.filter((i) => i.state === 'pending').map((i) => i.agency) : [d.party];
    if (!dl.reminded) {
      dl.reminded = true;
      for (const party of owing) next.outbox.push({ id: derivedUuidv7(base, 'remind', party), type: 'WorkflowReminder', to: party, body: { ...facts, party } });
      if (owing.length > 0) next.timeline.push(deadlineStep(next, 'reminder', d.name, `reminder sent to ${owing.join(', ')}: ${d.awaited} was due`, registry, registryKid, now));
    }
    if (!dl.escalated && now >= d.dueAt + d.graceMs) {
      dl.escalated = true;
      for (const party of owing) {
        for (const s of supervisors) {
          next.outbox.push({
            id: derivedUuidv7(base, 'escalate', party, s),
            type: 'WorkflowEscalation',
            to: s,
            body: { ...facts, overdueParty: party, supervisorRole: def.supervisor, parties: partiesOf(next) },
          });
        }
      }
      if (owing.length > 0) {
        next.supervisors = [...new Set([...next.supervisors, ...supervisors])];
        const to = `${def.supervisor} (${supervisors.join(', ') || 'no agency holds the role'})`;
        next.timeline.push(deadlineStep(next, 'escalation', d.name, `escalated to ${to}: ${owing.join(', ')} has not sent ${d.awaited}`, registry, registryKid, now));
      }
    }
    next.updatedAt = now;
  }
  return next;
}

function deadlineStep(c: CaseRecord, kind: string, name: string, note: string, actor: string, kid: string, now: number): CaseStep {
  return { messageId: '', messageType: '', transition: `${kind}:${name}`, from: c.state, to: c.state, actor, signedBy: kid, sentAt: now, appliedAt: now, note };
}
