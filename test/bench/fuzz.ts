/**
 * The fuzz run at scale (issue 12, finding 5): the generators of test/fuzz.test.ts (test/support/fuzz-cases.ts)
 * over the receive pipeline, reply parsing and the policy, scenario and CSV parsers, for as many cases as asked.
 * Prints cases, untyped errors, accepted mutations, inconsistencies and cases/s, per target, and the
 * first failures (each names its case number: re-run with the same seed to reproduce). Exits 1 on any failure.
 *
 * Run: node test/bench/fuzz.ts --cases 100000 --seed 12   (npm run fuzz -- --cases 100000 --seed 12)
 */
import { parseArgs } from 'node:util';
import { createLab } from '../support/parse-lab.ts';
import { fuzzTargets, runFuzz } from '../support/fuzz-cases.ts';
import { mulberry32 } from '../support/prng.ts';
import { runBounded } from './run-bounded.ts';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: '12' } } });
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isSafeInteger(cases) || cases <= 0 || !Number.isSafeInteger(seed)) {
  console.error('usage: node test/bench/fuzz.ts --cases N --seed S (whole numbers, N > 0)');
  process.exit(2);
}

runBounded('fuzz', 60 * 60_000, async () => {
  const lab = await createLab();
  const stats = runFuzz(fuzzTargets(lab), { cases, seed, rng: mulberry32 });
  const rate = Math.round(stats.cases / (stats.ms / 1000));
  console.log(`fuzz seed ${seed}: ${stats.cases} cases in ${(stats.ms / 1000).toFixed(1)} s (${rate} cases/s)`);
  console.log(`  untyped errors: ${stats.untyped}; accepted mutations: ${stats.accepted}; inconsistencies (opened but refused by send-side validation, or chunked CSV != whole): ${stats.inconsistent}`);
  for (const [name, t] of Object.entries(stats.byTarget)) {
    console.log(`  ${name.padEnd(9)} ${String(t.cases).padStart(7)} cases (${Math.round(t.cases / (t.ms / 1000))}/s): ${t.refused} refused (typed), ${t.ok} accepted as valid, ${t.untyped} untyped, ${t.accepted} accepted mutations, ${t.inconsistent} inconsistent`);
  }
  for (const f of stats.failures) console.log(`  FAIL ${f}`);
  if (stats.untyped + stats.accepted + stats.inconsistent > 0) process.exitCode = 1;
  if (process.exitCode) throw new Error(`fuzz found ${stats.untyped + stats.accepted + stats.inconsistent} failures`);
});
