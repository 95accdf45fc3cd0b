/**
 * Seeded, bounded fuzzing of every parsing entry point (issue 12, finding 5): the receive pipeline (openEnvelope
 * on mutated valid envelopes: bit flips, truncation, splices, part and field substitution, huge fields, wrong
 * types, subjects and NATS headers), reply parsing (the reply route), and the policy, scenario and CSV parsers.
 * 10 000 cases from a fixed seed (deterministic: a failure names its case number). The scale run is
 * `npm run fuzz -- --cases 100000 --seed N` (test/bench/fuzz.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LiaisonError } from '../services/sdk/errors.ts';
import { classify, fuzzTargets, runFuzz, type FuzzStats, type FuzzTarget } from './support/fuzz-cases.ts';
import { createLab, type Lab } from './support/parse-lab.ts';
import { mulberry32 } from './support/prng.ts';

const SEED = 20_261_129;
const CASES = 10_000;

let lab: Lab;
beforeAll(async () => {
  lab = await createLab();
});

describe('fuzz: every entry point answers garbage with a typed error', () => {
  let stats: FuzzStats;

  it(`${CASES} seeded cases: 0 untyped errors, 0 accepted mutations, 0 send/receive or chunking disagreements`, () => {
    stats = runFuzz(fuzzTargets(lab), { cases: CASES, seed: SEED, rng: mulberry32 });
    expect(stats.cases).toBe(CASES);
    expect(stats.failures).toEqual([]);
    expect(stats.untyped).toBe(0);
    expect(stats.accepted).toBe(0);
    expect(stats.inconsistent).toBe(0);
  }, 180_000);

  it('every target was exercised, with both refusals and valid inputs (the generators are not vacuous)', () => {
    for (const [name, t] of Object.entries(stats.byTarget)) {
      expect(t.cases, name).toBeGreaterThan(CASES / 40);
      expect(t.refused, name).toBeGreaterThan(0);
      expect(t.ok, name).toBeGreaterThan(0);
    }
  });

  it('the same seed gives the same run (a failing case can be reproduced)', () => {
    const a = runFuzz(fuzzTargets(lab), { cases: 300, seed: 7, rng: mulberry32 });
    const b = runFuzz(fuzzTargets(lab), { cases: 300, seed: 7, rng: mulberry32 });
    const shape = (s: FuzzStats) => Object.fromEntries(Object.entries(s.byTarget).map(([k, v]) => [k, [v.cases, v.ok, v.refused]]));
    expect(shape(a)).toEqual(shape(b));
  });

  it('the tally counts what it must: an untyped throw, an unknown code and an accepted mutation are failures', () => {
    const targets: FuzzTarget[] = [
      { name: 'untyped', weight: 1, run: () => ({ kind: 'untyped', error: 'TypeError: x' }) },
      { name: 'accepted', weight: 1, run: () => ({ kind: 'accepted', what: 'flip' }) },
      { name: 'typed', weight: 1, run: () => ({ kind: 'refused', code: 'ERR_DECODE' }) },
    ];
    const s = runFuzz(targets, { cases: 90, seed: 1, rng: mulberry32 });
    expect(s.untyped).toBe(s.byTarget.untyped!.cases);
    expect(s.accepted).toBe(s.byTarget.accepted!.cases);
    expect(s.untyped).toBeGreaterThan(0);
    expect(s.failures.length).toBeGreaterThan(0);
    // The classification itself: a LiaisonError with a code outside the registry is untyped.
    const bogus = new LiaisonError('ERR_DECODE', 'x');
    (bogus as unknown as { code: string }).code = 'ERR_NOT_A_CODE';
    expect(classify(bogus).kind).toBe('untyped');
    expect(classify(new TypeError('x')).kind).toBe('untyped');
    expect(classify(new LiaisonError('ERR_DECODE', 'x')).kind).toBe('refused');
  });
});
