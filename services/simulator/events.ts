import { ERROR_CODES } from '../sdk/errors.ts';

/**
 * The simulator's one event model. A scenario run is a stream of these events; the terminal timeline,
 * the HTML report and the live console are renderers of the same stream. Events carry metadata only
 * (agencies, types, tiers, field names, states): never a message body, except the simulator's own
 * synthetic values named in a detail line.
 */

/** What became of one line of the timeline. */
export type Outcome = 'delivered' | 'refused' | 'rejected' | 'info';

/** The policy a run played under. `file` is the path given (renderers show its base name). */
export interface PolicyRef {
  name: string;
  hash: string;
  file: string;
}

/** The run began: the federation is up (exchange started, streams provisioned). */
export interface RunStarted {
  kind: 'run-started';
  scenario: string;
  title: string;
  description?: string;
  policy: PolicyRef;
  exchange: { url: string; streams: number; consumers: number };
}

/** An agency was enrolled and connected (its display name, country and roles from the policy). */
export interface AgencyConnected {
  kind: 'agency-connected';
  id: string;
  name: string;
  country: string;
  roles: string[];
  /** The federation service it runs, if any. */
  service?: 'registry' | 'cases' | 'centre';
}

/** An agency's connection ended (revoked, or the run stopped). */
export interface AgencyDisconnected {
  kind: 'agency-disconnected';
  id: string;
  reason: string;
}

/** A titled step of the scenario began, at a simulated time (`day D HH:MM`). */
export interface StepStarted {
  kind: 'step';
  sim: string;
  title: string;
}

/** A line of commentary. */
export interface Note {
  kind: 'note';
  sim: string;
  step: string;
  text: string;
}

/** The fields of one copy: those its recipient saw and those withheld above its tier (top-level names). */
export interface FieldsSeen {
  seen: string[];
  withheld: string[];
}

/** One line of the timeline: a copy delivered or refused, a notice, an attempt refused by the broker… */
export interface MessageEvent {
  kind: 'message';
  /** Running number of the line in this run (1, 2, …). */
  seq: number;
  sim: string;
  step: string;
  from: string;
  to: string;
  type: string;
  tier?: string;
  outcome: Outcome;
  detail?: string;
  /** The refusal's code and its reason in plain words, when the line is a refusal. */
  code?: string;
  reason?: string;
  /** Fields the recipient saw and those withheld (copies only). */
  fields?: FieldsSeen;
  /** Header id of the message, when one exists. */
  id?: string;
}

/** A message was published (a send, a tampered copy, a retraction or correction). */
export interface MessageSent {
  kind: 'sent';
  from: string;
  type: string;
  id?: string;
}

/** A copy was received and verified (signature, directory, policy, tier) by an agency or a service. */
export interface CopyReceived {
  kind: 'received';
  agency: string;
  sender: string;
  type: string;
  tier: string;
  id: string;
}

/** Something was refused (counted by code in the summary). */
export interface Refusal {
  kind: 'refusal';
  code: string;
  reason: string;
}

/** A policy decision the scenario exercised. */
export interface Decision {
  kind: 'decision';
  at: string;
  from: string;
  type: string;
  to: string;
  outcome: string;
  copies: { tier: string; recipients: string[] }[];
}

/** A workflow case as the case registry holds it, at a change of state. */
export interface CaseSnapshot {
  ref: string;
  workflow: string;
  kind: string;
  state: string;
  requester: string;
  requested: string;
  steps: number;
  /** Items (parties, seats) and their states. */
  items: { agency: string; state: string }[];
  /** Running deadlines: what is awaited from whom, due at which simulated time. */
  deadlines: { awaited: string; party: string; due: string }[];
}

/** A case was opened or changed state. */
export interface CaseChanged {
  kind: 'case';
  sim: string;
  step: string;
  /** The state before ('' when the case is new). */
  from: string;
  case: CaseSnapshot;
}

/** The multiagency centre told an agency of a link between records (a CorrelationAlert it received). */
export interface CentreAlert {
  kind: 'centre-alert';
  sim: string;
  to: string;
  tier: string;
  reference: string;
  matchedKind: string;
  /** The matched value (synthetic scenario data), when the recipient's tier shows it. */
  matchedValue?: string;
  /** Agencies whose messages the link joins. */
  agencies: string[];
  /** The alert as received (the summary's correlation list). */
  body: Record<string, unknown>;
}

/** The centre withdrew or corrected an alert it had sent an agency. */
export interface CentreRetraction {
  kind: 'centre-retraction';
  sim: string;
  to: string;
  reference: string;
  corrected: boolean;
}

/** The audit ledger's state after a step: its chain head, entries by kind, signed checkpoints. */
export interface AuditCheckpoint {
  kind: 'audit';
  sim: string;
  step: string;
  head: number;
  checkpoints: number;
  entries: Record<string, number>;
  /** The whole chain verified with the audit key (`liaison audit verify`), at the end of a run that asked for it. */
  verified?: { ok: boolean; entries: number; checkpoints: number; uncovered: number; problems: string[] };
}

/** An expectation of the scenario held or failed. */
export interface ExpectationResult {
  kind: 'expectation';
  sim: string;
  step: string;
  ok: boolean;
  what: string;
}

/** The workflow cases at the end of the run. */
export interface CasesFinal {
  kind: 'cases';
  cases: CaseSnapshot[];
}

/** The run ended (every expectation evaluated). */
export interface RunFinished {
  kind: 'run-finished';
}

/** Two runs of one scenario under two policies compared: the verdict first, then what changed. */
export interface ComparisonVerdict {
  kind: 'comparison';
  /** True when the draft (second) policy breaks no expectation that holds under the first. */
  ok: boolean;
  verdict: string;
  broken: string[];
  diff: string[];
}

/** Every event of a scenario run. */
export type SimEvent =
  | RunStarted
  | AgencyConnected
  | AgencyDisconnected
  | StepStarted
  | Note
  | MessageEvent
  | MessageSent
  | CopyReceived
  | Refusal
  | Decision
  | CaseChanged
  | CentreAlert
  | CentreRetraction
  | AuditCheckpoint
  | ExpectationResult
  | CasesFinal
  | RunFinished
  | ComparisonVerdict;

/** A consumer of the stream. */
export type EventSink = (e: SimEvent) => void;

const NOT_ERROR_CODES: Record<string, string> = {
  'NATS Permissions Violation': 'The broker (nats-server) refused it: these credentials carry no permission on that subject.',
  'reconnect ERR_CONNECT': 'The broker refused the connection: the agency is revoked.',
};

/** A refusal's reason in plain words: the documented meaning of its error code. */
export function plainReason(code: string): string {
  const known = (ERROR_CODES as Record<string, string>)[code] ?? NOT_ERROR_CODES[code];
  if (known) return known;
  const inner = /^reconnect (ERR_[A-Z_]+)$/.exec(code)?.[1];
  if (inner) return `The agency could not reconnect: ${plainReason(inner)}`;
  return code;
}

/** A sink that hands each event to every sink given, in order. */
export function fanOut(sinks: readonly EventSink[]): EventSink {
  return (e) => {
    for (const s of sinks) s(e);
  };
}
