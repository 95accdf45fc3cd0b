import type { ErrorCode } from '../sdk/errors.ts';

/**
 * What a workflow definition sees of a message: the envelope facts and the body at the case
 * registry's tier (operational, or personal for CaseReferral). Bodies are protobuf JSON: camelCase
 * fields, full enum names, RFC 3339 timestamps; absent fields are default values.
 */
export interface WorkflowMessage {
  id: string;
  /** Short type name. */
  type: string;
  sender: string;
  /** Agency id or `all`. */
  recipient: string;
  /** The sender's own case reference (header case_ref). */
  externalRef: string;
  causationId: string;
  kid: string;
  createdAt: number;
  body: Record<string, unknown>;
}

/** A party of a case, as the definitions name them. */
export type PartyName = 'requester' | 'requested' | 'participant' | 'newcomer';

/** An item of a case: an enrolment, a joint-investigation party's answer. */
export interface CaseItem {
  ref: string;
  agency: string;
  state: string;
  /** Order of arrival (waiting lists). */
  order: number;
}

/** One applied transition (or deadline effect) in a case's timeline. */
export interface CaseStep {
  messageId: string;
  messageType: string;
  transition: string;
  from: string;
  to: string;
  actor: string;
  signedBy: string;
  sentAt: number;
  appliedAt: number;
  note: string;
  itemRef?: string;
  /** Set when its sender retracted the message (the step stays in the timeline, marked). */
  retracted?: { by: string; at: number; reason: string; replacedBy?: string };
}

/**
 * What the case was before its latest message transition: restored when that message is retracted
 * (a transition is undone only while nothing has been built on it).
 */
export interface CaseUndo {
  /** The message whose transition this undoes. */
  messageId: string;
  state: string;
  participants: string[];
  data: Record<string, unknown>;
  items: CaseItem[];
  deadlines: CaseDeadline[];
}

/** A running deadline: set when the case enters a state whose definition has one. */
export interface CaseDeadline {
  name: string;
  /** The state it belongs to (cleared when the case leaves it). */
  state: string;
  /** Agency it binds ('' with `pending`: the agencies whose items are still pending). */
  party: string;
  pending?: true;
  awaited: string;
  dueAt: number;
  /** Escalate this long after `dueAt`. */
  graceMs: number;
  reminded: boolean;
  escalated: boolean;
  /** Set when the deadline moves the case on expiry (e.g. a course closes for enrolment). */
  expireTo?: string;
}

/** A notice the registry owes the parties, kept in the case until it is published (transactional outbox). */
export interface OutboxEntry {
  /** Deterministic message id (derived from the cause), so a re-publication after a crash is dropped as a duplicate. */
  id: string;
  type: 'WorkflowStateChange' | 'WorkflowReminder' | 'WorkflowEscalation';
  to: string;
  body: Record<string, unknown>;
}

/** A case, as stored in the registry's KV bucket (one key per case; compare-and-set on its revision). */
export interface CaseRecord {
  ref: string;
  workflow: string;
  kind: string;
  state: string;
  requester: string;
  requested: string;
  participants: string[];
  externalRef: string;
  openedAt: number;
  updatedAt: number;
  /** Operational facts the definition keeps (seats, accepted parties, urgency). */
  data: Record<string, unknown>;
  items: CaseItem[];
  timeline: CaseStep[];
  deadlines: CaseDeadline[];
  /** Header ids of every message applied (idempotency: a redelivered message never applies twice). */
  applied: string[];
  /** Supervisor agencies escalated to (they may look the case up). */
  supervisors: string[];
  outbox: OutboxEntry[];
  /** The state before the latest message transition (see {@link CaseUndo}). */
  undo?: CaseUndo;
}

/** What a transition hands the engine besides the new state. */
export interface TransitionResult {
  note?: string;
  /** The item concerned, and who to tell about it (defaults: every party). */
  itemRef?: string;
  itemState?: string;
  notify?: string[];
  /** Further item changes caused by this one (a waiting-list promotion), each told to its agency and the requested party. */
  also?: { itemRef: string; itemState: string; note: string; notify: string[] }[];
}

/** Context handed to guards and effects. */
export interface TransitionContext {
  now: number;
  /** Agencies of the federation (for checking named parties). */
  agencies: ReadonlySet<string>;
  /** Each agency's country and roles as the policy names them (e.g. the one designated authority of a state); the registry always sets it. */
  directory?: ReadonlyMap<string, { country: string; roles: readonly string[] }>;
}

/** A refusal decided by a definition. */
export interface Refusal {
  code: ErrorCode;
  reason: string;
}

/** One transition of a definition. */
export interface TransitionSpec {
  name: string;
  /** The message type that causes it. */
  on: string;
  /** Only when the body says so (e.g. decision = ACCEPTED). */
  when?: (body: Record<string, unknown>) => boolean;
  /** States it may leave. */
  from: string[];
  /** State it enters (a function for transitions that depend on the case, e.g. all parties accepted). */
  to: string | ((c: CaseRecord, m: WorkflowMessage) => string);
  /** Who may cause it. */
  by: PartyName[];
  /** Return a reason to refuse (e.g. missing consent); the case stays unchanged. */
  guard?: (c: CaseRecord, m: WorkflowMessage, ctx: TransitionContext) => Refusal | undefined;
  /** Change the case's data and items (called on a copy; never on refusal). */
  apply?: (c: CaseRecord, m: WorkflowMessage, ctx: TransitionContext) => TransitionResult | void;
}

/** A deadline that runs while a case is in a state. */
export interface DeadlineSpec {
  name: string;
  /** The party it binds; `pending`: every agency whose item is still `pending` when it fires (joint-investigation answers). */
  party: 'requester' | 'requested' | 'pending';
  /** What is awaited, in words ("ReferralDecision"). */
  awaited: string;
  /** When it is due, from the case (e.g. the respond_by of the opening message, or a default period). */
  due: (c: CaseRecord, now: number) => number;
  /** Escalate to the supervisor this long after the due time (reminder at the due time). */
  graceMs: number;
  /** When set, the deadline moves the case to this state instead of reminding (a course closes). */
  expireTo?: string;
}

/** How a message finds its case. */
export interface LinkSpec {
  type: string;
  /**
   * Only messages for which this holds belong to the workflow (e.g. a financial-intelligence report that
   * passes on another unit's report); the others of the type are no workflow's and the registry lets them be.
   * Absent: every message of the type.
   */
  applies?: (m: WorkflowMessage) => boolean;
  /** The case key it belongs to, or the header id of a message of the case (resolved through the case's aliases). */
  link: (m: WorkflowMessage) => { key?: string; messageId?: string };
}

/**
 * A workflow as data: states, who may cause which transition, deadlines, and what a deadline does
 * when it passes. The engine knows nothing of any particular workflow; add one by adding a definition.
 */
export interface WorkflowDefinition {
  name: string;
  title: string;
  paragraphs: string;
  /** The message that opens a case, the case key it gets, its kind and further parties. */
  opens: {
    type: string;
    key: (m: WorkflowMessage) => string;
    kind?: (m: WorkflowMessage) => string;
    /** The requested party (default: the recipient; a broadcast offer names its sender). */
    requested?: (m: WorkflowMessage) => string;
    participants?: (m: WorkflowMessage) => string[];
    initial: string;
    guard?: (m: WorkflowMessage, ctx: TransitionContext) => Refusal | undefined;
    apply?: (c: CaseRecord, m: WorkflowMessage, ctx: TransitionContext) => TransitionResult | void;
  };
  follows: LinkSpec[];
  /** Every state; terminal states accept no further transition. */
  states: Record<string, { terminal?: boolean; deadlines?: DeadlineSpec[] }>;
  transitions: TransitionSpec[];
  /** The policy role escalations go to. */
  supervisor: string;
}
