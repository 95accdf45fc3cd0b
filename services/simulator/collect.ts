import type { Tier } from '../sdk/tier.ts';
import type { TimelineEvent } from './timeline.ts';
import type { CaseSnapshot, EventSink, PolicyRef, SimEvent } from './events.ts';

/** A policy decision the scenario exercised (for the report). */
export interface DecisionRecord {
  at: string;
  from: string;
  type: string;
  to: string;
  outcome: string;
  copies: { tier: string; recipients: string[] }[];
}

/** What a scenario run observed; `failures` empty means every expectation held. */
export interface ScenarioResult {
  scenario: string;
  title: string;
  policy: PolicyRef;
  failures: string[];
  sent: number;
  /** Copies received and verified (signature, directory, policy, tier) by agencies and services. */
  verified: number;
  refusals: Record<string, number>;
  /** agency → type → tier of the copy it saw. */
  saw: Record<string, Record<string, Tier>>;
  agencies: string[];
  /** Agency id → display name (from the policy). */
  names: Record<string, string>;
  /** The timeline, one record per line printed. */
  events: (TimelineEvent & { sim: string; step: string; fields?: { seen: string[]; withheld: string[] }; reason?: string })[];
  cases: { ref: string; workflow: string; kind: string; state: string; requester: string; requested: string; steps: number }[];
  correlations: { to: string; tier: string; body: Record<string, unknown> }[];
  decisions: DecisionRecord[];
  /** The throwaway directory the run worked in (trust, agencies, store): removed at the end unless `keep`. */
  workDir: string;
}

/** A sink that folds the event stream into a {@link ScenarioResult}, and the result so far. */
export interface Collector {
  sink: EventSink;
  result: ScenarioResult;
}

/** The result before any event: a run of `scenario` under `policyFile`, working in `workDir`. */
export function emptyResult(scenario: { name: string; title: string }, policyFile: string, workDir: string): ScenarioResult {
  return {
    scenario: scenario.name,
    title: scenario.title,
    policy: { name: '', hash: '', file: policyFile },
    failures: [],
    sent: 0,
    verified: 0,
    refusals: {},
    saw: {},
    agencies: [],
    names: {},
    events: [],
    cases: [],
    correlations: [],
    decisions: [],
    workDir,
  };
}

const caseRow = (c: CaseSnapshot): ScenarioResult['cases'][number] => ({ ref: c.ref, workflow: c.workflow, kind: c.kind, state: c.state, requester: c.requester, requested: c.requested, steps: c.steps });

/** Fold one event into the result. */
function fold(r: ScenarioResult, e: SimEvent): void {
  switch (e.kind) {
    case 'run-started':
      r.policy = e.policy;
      return;
    case 'agency-connected':
      r.agencies.push(e.id);
      r.names[e.id] = e.name;
      return;
    case 'message': {
      const { kind: _k, seq: _s, code: _c, id: _i, ...line } = e;
      r.events.push(line);
      return;
    }
    case 'sent':
      r.sent++;
      return;
    case 'received':
      r.verified++;
      (r.saw[e.agency] ??= {})[e.type] = e.tier as Tier;
      return;
    case 'refusal':
      r.refusals[e.code] = (r.refusals[e.code] ?? 0) + 1;
      return;
    case 'decision': {
      const { kind: _k, ...d } = e;
      r.decisions.push(d);
      return;
    }
    case 'centre-alert':
      r.correlations.push({ to: e.to, tier: e.tier, body: e.body });
      return;
    case 'expectation':
      if (!e.ok) r.failures.push(e.what);
      return;
    case 'cases':
      r.cases = e.cases.map(caseRow);
      return;
    default:
      return;
  }
}

/** A collector for one run. */
export function createCollector(initial: ScenarioResult): Collector {
  return { result: initial, sink: (e) => fold(initial, e) };
}
