import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OffsetClock } from '../sdk/clock.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import { createCollector, emptyResult, type ScenarioResult } from './collect.ts';
import { note, now, pause, type RunContext } from './context.ts';
import { fanOut, type EventSink } from './events.ts';
import type { MessageExplanation } from '../audit/explain.ts';
import { explainFromLedger, verifyAudit } from './audit-check.ts';
import { connectAgencies, startFederation } from './federation-up.ts';
import { snapshot, tellAudit, tellCases, tellNotices } from './notices.ts';
import { playRevoke, playRogue, playTamper } from './play-attacks.ts';
import { playExpectCase, playExpectCorrelation, playExpectNotice, playStrategicReport } from './play-expect.ts';
import { playRetract } from './play-retract.ts';
import { playCheck, playSend } from './play-send.ts';
import type { Scenario, ScenarioEvent } from './scenario.ts';
import { terminalRenderer } from './terminal.ts';

export type { DecisionRecord, ScenarioResult } from './collect.ts';

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Where the terminal timeline goes, a line at a time (omit for none). */
  out?: (line: string) => void;
  /** Further consumers of the event stream (the console). */
  sinks?: EventSink[];
  logger?: Logger;
  /** Run under this policy instead of the scenario's (what-if analysis). */
  policyFile?: string;
  /** Override the scenario's speed (simulated seconds per real second; 0 = no waiting). */
  speed?: number;
  /**
   * Called before each timeline event is played (a presenter's pause and step): resolve to go on, or
   * to `'stop'` to end the run there (the summary covers what was played).
   */
  gate?: (index: number, e: ScenarioEvent) => Promise<void | 'stop'>;
  keep?: boolean;
  /** At the end, verify the audit ledger with the audit key and emit the verdict (the console's audit view). */
  verifyAudit?: boolean;
  /**
   * Called once the run is over and before its federation is stopped: the federation stays up (for
   * questions to its audit ledger) until the promise it returns settles.
   */
  linger?: (tools: RunTools, result: ScenarioResult) => Promise<void>;
}

/** What a lingering run still answers. */
export interface RunTools {
  /** The audit ledger's account of a message: its copies, their recipients and acknowledgements, refusals. */
  explain(id: string, sender?: string): Promise<MessageExplanation[]>;
}

/** Play one timeline event of the scenario. */
async function play(ctx: RunContext, e: ScenarioEvent): Promise<void> {
  switch (e.kind) {
    case 'note':
      return note(ctx, e.text);
    case 'send':
      return playSend(ctx, e, ctx.catalog);
    case 'check-document':
      return playCheck(ctx, e);
    case 'expect-case':
      return playExpectCase(ctx, e);
    case 'expect-correlation':
      return playExpectCorrelation(ctx, e);
    case 'expect-notice':
      return playExpectNotice(ctx, e);
    case 'strategic-report':
      return playStrategicReport(ctx, e);
    case 'rogue':
      return playRogue(ctx, e);
    case 'tamper':
      return playTamper(ctx, e);
    case 'revoke':
      return playRevoke(ctx, e);
    case 'retract':
    case 'correct':
      return playRetract(ctx, e);
  }
}

/** Advance the simulated clock to the event's time (waiting in real time at `speed`, at most 3 s). */
async function advanceTo(ctx: RunContext, at: number, speed: number): Promise<void> {
  const delta = ctx.simStart + at - ctx.sim.now();
  if (delta <= 0) return;
  if (speed > 0) await pause(Math.min(3_000, delta / speed));
  ctx.sim.advance(Math.max(0, ctx.simStart + at - ctx.sim.now()));
}

/** Play the timeline: each event at its simulated time, with the notices, case changes and audit state it caused. */
async function playTimeline(ctx: RunContext, s: Scenario, speed: number, gate: RunOptions['gate']): Promise<void> {
  const known = new Map<string, string>();
  for (const [i, e] of s.events.entries()) {
    if ((await gate?.(i, e)) === 'stop') return;
    await advanceTo(ctx, e.at, speed);
    if (e.title) {
      ctx.step = e.title;
      ctx.emit({ kind: 'step', sim: now(ctx), title: e.title });
    }
    // Deadlines that passed on the simulated clock fire now.
    await ctx.workflows?.tick();
    await pause(30);
    tellNotices(ctx);
    await play(ctx, e);
    await pause(30);
    tellNotices(ctx);
    tellCases(ctx, known);
    tellAudit(ctx);
  }
}

/** Stop everything the run started; remove its directory unless kept. */
async function tearDown(ctx: RunContext, keep: boolean): Promise<void> {
  await ctx.workflows?.stop().catch(() => undefined);
  await ctx.centre?.stop().catch(() => undefined);
  await ctx.registry?.stop().catch(() => undefined);
  for (const c of ctx.clients.values()) await c.close().catch(() => undefined);
  await ctx.exchange?.stop().catch(() => undefined);
  if (!keep) await rm(ctx.work, { recursive: true, force: true });
}

/**
 * Play a scenario against a real local exchange: a throwaway federation from its policy, every agency
 * enrolled and connected, the services the policy gives roles to (the ¶16 registry, the case registry,
 * the centre) running, then each timeline event on a simulated clock. The run is a stream of typed
 * events ({@link SimEvent}) handed to the terminal renderer (when `out` is given), to `sinks`, and folded
 * into the returned result. Everything it starts it stops; everything it creates it removes (unless `keep`).
 */
export async function runScenario(s: Scenario, o: RunOptions): Promise<ScenarioResult> {
  const logger = o.logger ?? silentLogger();
  const work = await mkdtemp(join(tmpdir(), 'liaison-demo-'));
  const policyFile = o.policyFile ?? s.policyFile;
  const collector = createCollector(emptyResult(s, policyFile, work));
  const sim = new OffsetClock();
  const ctx: RunContext = {
    emit: fanOut([collector.sink, ...(o.out ? [terminalRenderer(o.out)] : []), ...(o.sinks ?? [])]),
    work,
    catalog: loadCatalog(),
    sim,
    simStart: sim.now(),
    clients: new Map(),
    names: new Map(),
    inbox: [],
    told: 0,
    step: '',
    seq: 0,
    result: collector.result,
  };
  try {
    await startFederation(ctx, s, policyFile, logger);
    await connectAgencies(ctx, logger);
    await playTimeline(ctx, s, o.speed ?? s.speed, o.gate);
    if (o.verifyAudit) await verifyAudit(ctx);
    ctx.emit({ kind: 'cases', cases: (ctx.workflows?.cases() ?? []).map((c) => snapshot(c, ctx.simStart)) });
    ctx.emit({ kind: 'run-finished' });
    await o.linger?.({ explain: (id, sender) => explainFromLedger(ctx, id, sender) }, collector.result);
    return collector.result;
  } finally {
    await tearDown(ctx, o.keep === true);
  }
}
