import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Logger } from '../sdk/logging.ts';
import type { Policy } from '../sdk/policy/index.ts';
import { brokenByDraft, compareRuns, comparisonVerdict } from '../simulator/compare.ts';
import type { MessageExplanation } from '../audit/explain.ts';
import { isLiaisonError, LiaisonError } from '../sdk/errors.ts';
import { runScenario, type RunOptions, type RunTools, type ScenarioResult } from '../simulator/runner.ts';
import type { Scenario } from '../simulator/scenario.ts';
import type { EventHub, RunName } from './hub.ts';
import { Playback } from './playback.ts';
import { diffDraft, parseDraft, type WhatIf } from './whatif.ts';

/** Options of a {@link ConsoleSession}. */
export interface SessionOptions {
  scenario: Scenario;
  hub: EventHub;
  logger?: Logger;
  /** Start paused (the presenter presses play or step). */
  paused?: boolean;
  /** Pace: real milliseconds between scenario events at speed 1. */
  stepMs?: number;
  speed?: number;
}

/** A result with its policy named by file name only (the console and report never show local paths). */
function named(r: ScenarioResult): ScenarioResult {
  return { ...r, policy: { ...r.policy, file: basename(r.policy.file) } };
}

/**
 * One console session: the scenario played once under its own policy, paced by the presenter, its events
 * published to the hub; a draft policy, when loaded, diffed at once and the scenario replayed under it.
 */
export class ConsoleSession {
  readonly playback: Playback;
  readonly #o: SessionOptions;
  #main: Promise<ScenarioResult | undefined> | undefined;
  #played: Promise<ScenarioResult | undefined> | undefined;
  #tools: RunTools | undefined;
  #draftResult: ScenarioResult | undefined;
  #stop: () => void = () => undefined;
  readonly #stopping = new Promise<void>((r) => (this.#stop = r));
  #draft: Promise<void> | undefined;
  #whatif: WhatIf | undefined;
  #closed = false;

  constructor(o: SessionOptions) {
    this.#o = o;
    this.playback = new Playback({ playing: !o.paused, speed: o.speed ?? 1, stepMs: o.stepMs ?? 1_500, total: o.scenario.events.length, onChange: (state) => o.hub.publish('main', { kind: 'playback', state }) });
    o.hub.publish('main', { kind: 'playback', state: this.playback.state() });
  }

  /** Whether the main run has begun. */
  started(): boolean {
    return this.#main !== undefined;
  }

  /**
   * Play the scenario (once; later calls return the same run): resolves with its result when the run is
   * over; its federation stays up (for the audit ledger's explanations) until the session stops.
   */
  start(): Promise<ScenarioResult | undefined> {
    if (!this.#played) {
      let played: (r: ScenarioResult | undefined) => void = () => undefined;
      this.#played = new Promise((r) => (played = r));
      const linger = async (tools: RunTools, result: ScenarioResult) => {
        this.#tools = tools;
        played(result);
        await this.#stopping;
      };
      this.#main = this.#run('main', { gate: this.playback.gate, linger }).then((r) => {
        played(r);
        return r;
      });
    }
    return this.#played;
  }

  /** The result of the replay under the draft, once it has run. */
  draftResult(): ScenarioResult | undefined {
    return this.#draftResult;
  }

  /** What the main run's audit ledger says of a message (once the run is over). */
  async explain(id: string, sender?: string): Promise<MessageExplanation[]> {
    if (!this.#tools) throw new LiaisonError('ERR_USAGE', 'the audit ledger answers once the scenario has finished playing');
    return this.#tools.explain(id, sender);
  }

  async #run(run: RunName, o: { gate?: (i: number) => Promise<void | 'stop'>; policyFile?: string; linger?: RunOptions['linger'] }): Promise<ScenarioResult | undefined> {
    const hub = this.#o.hub;
    try {
      return await runScenario(this.#o.scenario, {
        sinks: [(e) => hub.publish(run, e)],
        verifyAudit: true,
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
        gate: o.gate ?? (async () => (this.#closed ? 'stop' : undefined)),
        ...(o.gate ? {} : { speed: 0 }),
        ...(o.policyFile ? { policyFile: o.policyFile } : {}),
        ...(o.linger ? { linger: o.linger } : {}),
      });
    } catch (err) {
      hub.publish(run, { kind: 'run-failed', message: isLiaisonError(err) ? err.toLine() : String((err as Error).message) });
      return undefined;
    }
  }

  /** The what-if loaded last, if any. */
  whatIf(): WhatIf | undefined {
    return this.#whatif;
  }

  /**
   * Load a draft policy: parse it (ERR_POLICY_INVALID when it does not parse), publish what each agency
   * gains and loses, then replay the scenario under it once the main run is over and publish the comparison.
   */
  async loadDraft(text: string, name: string): Promise<WhatIf> {
    if (this.#draft) await this.#draft;
    const draft = parseDraft(text, basename(name) || 'draft.yaml');
    const base = parseDraft(await readFile(this.#o.scenario.policyFile, 'utf8'), basename(this.#o.scenario.policyFile));
    this.#whatif = diffDraft(base, draft);
    this.#o.hub.publish('draft', { kind: 'whatif', whatif: this.#whatif });
    this.#draft = this.#replay(text, draft).catch((err: unknown) => this.#update({ status: 'failed', error: (err as Error).message }));
    return this.#whatif;
  }

  async #replay(text: string, draft: Policy): Promise<void> {
    const hub = this.#o.hub;
    const dir = await mkdtemp(join(tmpdir(), 'liaison-console-draft-'));
    try {
      const file = join(dir, basename(draft.source.file ?? 'draft.yaml'));
      await writeFile(file, text);
      const first = await this.start();
      this.#update({ status: 'replaying' });
      const second = await this.#run('draft', { policyFile: file });
      this.#draftResult = second;
      if (!first || !second) return this.#update({ status: 'failed', error: 'a run of the scenario failed (see its events)' });
      const [a, b] = [named(first), named(second)];
      const broken = brokenByDraft(a, b);
      const comparison = { kind: 'comparison' as const, ok: broken.length === 0, verdict: comparisonVerdict(a, b), broken, diff: compareRuns(a, b) };
      hub.publish('draft', comparison);
      this.#update({ status: 'done', comparison });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  #update(change: Partial<WhatIf>): void {
    if (!this.#whatif) return;
    this.#whatif = { ...this.#whatif, ...change };
    this.#o.hub.publish('draft', { kind: 'whatif', whatif: this.#whatif });
  }

  /** Stop: each run ends at its next event, its federation stopped and removed; resolves when they have. */
  async stop(): Promise<void> {
    this.#closed = true;
    this.#stop();
    this.playback.close();
    await this.settled();
  }

  /** Wait for every run started so far to end. */
  async settled(): Promise<void> {
    await this.#main;
    await this.#draft;
  }
}
