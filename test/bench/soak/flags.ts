import { parseArgs } from 'node:util';
import { LiaisonError } from '../../../services/sdk/errors.ts';

/** The soak's settings, from its flags. */
export interface SoakFlags {
  /** The whole load, both phases: the first half below capacity (`rate`), the second above (`aboveRate`). */
  minutes: number;
  /** Messages per second offered by all agencies together below capacity. */
  rate: number;
  /** Messages per second in the above-capacity phase (0: no such phase, the whole load at `rate`). */
  aboveRate: number;
  /** Document checks per second, all agencies together, in both phases. */
  checkRate: number;
  sampleSeconds: number;
  /** After the load, how long the backlog may take to drain before the services are stopped. */
  drainSeconds: number;
  /** Where the samples and the result go (JSON). */
  out: string;
}

export const USAGE =
  'npm run soak -- [--minutes N (2)] [--rate R msg/s (30)] [--above-rate A msg/s (5×R; 0: none)] [--check-rate C checks/s (10)] [--sample-seconds S (5)] [--drain-seconds D (60)] [--out FILE.json]';

function num(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new LiaisonError('ERR_USAGE', `--${name} ${JSON.stringify(v)}: must be a number from ${min} to ${max} (usage: ${USAGE})`);
  return n;
}

/** Parse and check the soak's flags; anything wrong is an `ERR_USAGE` LiaisonError naming the flag. */
export function parseSoakFlags(argv: string[]): SoakFlags {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { minutes: { type: 'string' }, rate: { type: 'string' }, 'above-rate': { type: 'string' }, 'check-rate': { type: 'string' }, 'sample-seconds': { type: 'string' }, 'drain-seconds': { type: 'string' }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new LiaisonError('ERR_USAGE', `${(err as Error).message} (usage: ${USAGE})`);
  }
  const rate = num(values.rate, 'rate', 30, 1, 5_000);
  return {
    minutes: num(values.minutes, 'minutes', 2, 0.5, 240),
    rate,
    aboveRate: num(values['above-rate'], 'above-rate', rate * 5, 0, 20_000),
    checkRate: num(values['check-rate'], 'check-rate', 10, 0, 2_000),
    sampleSeconds: num(values['sample-seconds'], 'sample-seconds', 5, 1, 600),
    drainSeconds: num(values['drain-seconds'], 'drain-seconds', 60, 0, 3_600),
    out: values.out ?? `/tmp/liaison-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  };
}
