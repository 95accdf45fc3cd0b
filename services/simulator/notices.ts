import type { CaseRecord } from '../workflows/model.ts';
import { line, now, simTime, type Received, type RunContext } from './context.ts';
import type { CaseSnapshot } from './events.ts';

/** Notices the services send agencies: told on the timeline as they arrive. */
export const NOTICE_TYPES = new Set(['WorkflowStateChange', 'WorkflowRejection', 'WorkflowReminder', 'WorkflowEscalation', 'CorrelationAlert', 'DocumentHitNotice', 'RegistryRefusal']);

/** A notice's one-line detail, in the words of its type. */
function noticeDetail(r: Received): string {
  const b = r.msg.body;
  switch (r.msg.type) {
    case 'WorkflowStateChange':
      return `${String(b.workflow)}: ${String(b.fromState ?? '') || '∅'} → ${String(b.toState)}${b.note ? ` (${String(b.note)})` : ''}`;
    case 'WorkflowRejection':
      return `${String(b.code)}: ${String(b.reason)}`;
    case 'WorkflowReminder':
      return `${String(b.workflow)}: ${String(b.awaited)} was due`;
    case 'WorkflowEscalation':
      return `${String(b.workflow)}: ${String(b.overdueParty)} overdue with ${String(b.awaited)}`;
    case 'CorrelationAlert':
      return `link on ${String(b.matchedKind ?? '').replace('ENTITY_KIND_', '').toLowerCase()} ${String(b.matchedValue ?? '(withheld)')}`;
    case 'DocumentHitNotice':
      return `owner told: checked by ${String(b.checkingAgency)} at ${String(b.checkLocation)}`;
    default:
      return String(b.reason ?? '');
  }
}

/** The centre's alert as a link event: the agencies whose records it joins. */
function emitAlert(ctx: RunContext, r: Received): void {
  const b = r.msg.body;
  const occ = Array.isArray(b.occurrences) ? (b.occurrences as Record<string, unknown>[]) : [];
  ctx.emit({
    kind: 'centre-alert',
    sim: now(ctx),
    to: r.agency,
    tier: r.msg.header.tier,
    reference: String(b.alertReference ?? r.msg.header.id),
    matchedKind: String(b.matchedKind ?? '').replace('ENTITY_KIND_', '').toLowerCase(),
    ...(typeof b.matchedValue === 'string' ? { matchedValue: b.matchedValue } : {}),
    agencies: [...new Set([r.agency, ...occ.map((o) => String(o.agency ?? '')).filter(Boolean)])].sort(),
    body: b,
  });
}

/** Tell what the services told agencies since the last call (notices, alerts, refusals). */
export function tellNotices(ctx: RunContext): void {
  for (const r of ctx.inbox.slice(ctx.told)) {
    if (!NOTICE_TYPES.has(r.msg.type)) continue;
    const refused = r.msg.type === 'WorkflowRejection' || r.msg.type === 'RegistryRefusal';
    const code = refused && typeof r.msg.body.code === 'string' ? r.msg.body.code : undefined;
    line(ctx, { from: r.msg.header.sender, to: r.agency, type: r.msg.type, tier: r.msg.header.tier, outcome: refused ? 'refused' : 'info', detail: noticeDetail(r) }, { id: r.msg.header.id, ...(code ? { code } : {}) });
    if (r.msg.type === 'CorrelationAlert') emitAlert(ctx, r);
  }
  ctx.told = ctx.inbox.length;
}

/** A case as the console and report show it. */
export function snapshot(c: CaseRecord, simStart: number): CaseSnapshot {
  return {
    ref: c.ref,
    workflow: c.workflow,
    kind: c.kind,
    state: c.state,
    requester: c.requester,
    requested: c.requested,
    steps: c.timeline.length,
    items: c.items.map((i) => ({ agency: i.agency, state: i.state })),
    deadlines: c.deadlines.map((d) => ({ awaited: d.awaited, party: d.party || 'pending parties', due: simTime(Math.max(0, d.dueAt - simStart)) })),
  };
}

/** Emit a case event for each case opened or moved since the last call (`known`: ref → last state told). */
export function tellCases(ctx: RunContext, known: Map<string, string>): void {
  for (const c of ctx.workflows?.cases() ?? []) {
    const before = known.get(c.ref);
    if (before === c.state) continue;
    known.set(c.ref, c.state);
    ctx.emit({ kind: 'case', sim: now(ctx), step: ctx.step, from: before ?? '', case: snapshot(c, ctx.simStart) });
  }
}

/** Emit the audit ledger's state (head, entries by kind, checkpoints), when the exchange keeps one. */
export function tellAudit(ctx: RunContext): void {
  const a = ctx.exchange?.audit?.stats();
  if (!a) return;
  const entries = Object.fromEntries(Object.entries(a.appended).map(([k, v]) => [k, v ?? 0]));
  ctx.emit({ kind: 'audit', sim: now(ctx), step: ctx.step, head: a.head, checkpoints: entries.checkpoint ?? 0, entries });
}
