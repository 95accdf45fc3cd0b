import { join } from 'node:path';
import type { Logger } from '../sdk/logging.ts';
import { runScenario, type ScenarioResult } from './runner.ts';
import { loadScenario } from './scenario.ts';

/** The default scenario `npm start` plays. */
export const DEFAULT_SCENARIO = join(import.meta.dirname, '../../deploy/scenarios/interception.yaml');

/**
 * The first `npm start`: the default scenario (an interception at sea followed through ¶13–17) played
 * against a real local exchange, printed as a timeline, then a summary and who saw what.
 */
export async function runDemo(o: { out: (line: string) => void; logger?: Logger; keep?: boolean; speed?: number }): Promise<ScenarioResult> {
  const scenario = await loadScenario(DEFAULT_SCENARIO);
  return runScenario(scenario, { out: o.out, ...(o.logger ? { logger: o.logger } : {}), ...(o.keep ? { keep: true } : {}), ...(o.speed !== undefined ? { speed: o.speed } : {}) });
}
