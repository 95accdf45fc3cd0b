import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createLogger } from '../../sdk/logging.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { DEFAULT_SCENARIO } from '../../simulator/demo.ts';
import { brokenByDraft, compareRuns, comparisonVerdict } from '../../simulator/compare.ts';
import { renderReport } from '../../simulator/report.ts';
import { runScenario, type ScenarioResult } from '../../simulator/runner.ts';
import { loadScenario } from '../../simulator/scenario.ts';
import { int, str, type Command } from '../args.ts';

const simulate: Command = {
  path: ['simulate'],
  summary: 'play a scenario against a real local exchange (default: the interception scenario npm start plays); exit 1 when an expectation fails, or when --compare-policy breaks one',
  usage: 'liaison simulate [SCENARIO.yaml] [--speed N] [--report FILE.html] [--compare-policy POLICY.yaml] [--quiet] [--keep]',
  options: { speed: { type: 'string' }, report: { type: 'string' }, 'compare-policy': { type: 'string' }, quiet: { type: 'boolean' }, keep: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `one scenario at a time (usage: ${simulate.usage})`);
    const scenario = await loadScenario(args.positionals[0] ?? DEFAULT_SCENARIO);
    const logger = createLogger({ name: 'simulate', level: process.env.LIAISON_LOG_LEVEL ?? 'silent' });
    const speed = int(args, 'speed', 0, 100_000_000);
    const out = args.values.quiet ? () => undefined : io.out;
    const base = { logger, ...(speed !== undefined ? { speed } : {}), ...(args.values.keep ? { keep: true } : {}) };
    const first = await runScenario(scenario, { ...base, out });
    let compared: { other: ScenarioResult; diff: string[] } | undefined;
    const other = str(args, 'compare-policy');
    if (other) {
      io.out('');
      io.out(`— the same scenario under ${other} —`);
      const second = await runScenario(scenario, { ...base, out, policyFile: resolve(other) });
      compared = { other: second, diff: compareRuns(first, second) };
      io.out('');
      io.out(comparisonVerdict(first, second));
      io.out(`What changes from ${first.policy.file} to ${second.policy.file}:`);
      for (const d of compared.diff) io.out(`  ${d}`);
      if (compared.diff.length === 0) io.out('  nothing: every agency saw the same at the same tiers');
    }
    const report = str(args, 'report');
    if (report) {
      await writeFile(report, renderReport(first, compared));
      io.out(`report written to ${report}`);
    }
    if (args.values.quiet) io.out(first.failures.length === 0 ? 'All expectations held.' : `${first.failures.length} expectation(s) failed: ${first.failures.join('; ')}`);
    // Exit 1 when the scenario fails under its own policy, or when the compared (draft) policy breaks an expectation.
    const broken = compared ? brokenByDraft(first, compared.other) : [];
    if (args.values.quiet && broken.length) io.out(comparisonVerdict(first, compared!.other));
    return first.failures.length === 0 && broken.length === 0 ? 0 : 1;
  },
};

export const SIMULATE_COMMANDS: readonly Command[] = [simulate];
