import type { ScenarioResult } from './runner.ts';

/**
 * What each agency saw differently under two policies (the same scenario played twice): a line per
 * agency and type — gained, lost, or at another tier — plus refusals and expectation outcomes that differ.
 */
export function compareRuns(a: ScenarioResult, b: ScenarioResult): string[] {
  const out: string[] = [];
  const agencies = [...new Set([...a.agencies, ...b.agencies])].sort();
  for (const agency of agencies) {
    const sa = a.saw[agency] ?? {};
    const sb = b.saw[agency] ?? {};
    for (const type of [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort()) {
      const ta = sa[type];
      const tb = sb[type];
      if (ta === tb) continue;
      if (!ta) out.push(`${agency} gains ${type} (${tb} tier)`);
      else if (!tb) out.push(`${agency} no longer sees ${type} (was ${ta} tier)`);
      else out.push(`${agency} sees ${type} at the ${tb} tier instead of ${ta}`);
    }
  }
  for (const code of [...new Set([...Object.keys(a.refusals), ...Object.keys(b.refusals)])].sort()) {
    if ((a.refusals[code] ?? 0) !== (b.refusals[code] ?? 0)) out.push(`refusals ${code}: ${a.refusals[code] ?? 0} → ${b.refusals[code] ?? 0}`);
  }
  for (const f of b.failures) if (!a.failures.includes(f)) out.push(`expectation that fails only under the second policy: ${f}`);
  for (const f of a.failures) if (!b.failures.includes(f)) out.push(`expectation that fails only under the first policy: ${f}`);
  return out;
}

/** Expectations that hold under the first policy and fail under the second: what a draft policy breaks. */
export function brokenByDraft(a: ScenarioResult, b: ScenarioResult): string[] {
  return b.failures.filter((f) => !a.failures.includes(f));
}

/**
 * The first line of a comparison, before any detail: whether the draft (second) policy breaks expectations
 * the scenario holds under the first, how many and which. The comparison exits 1 when it does.
 */
export function comparisonVerdict(a: ScenarioResult, b: ScenarioResult): string {
  const broken = brokenByDraft(a, b);
  if (broken.length === 0) return `${b.policy.file} breaks no expectation of the scenario`;
  return `FAIL: ${b.policy.file} breaks ${broken.length} expectation(s) that hold under ${a.policy.file}: ${broken.join('; ')}`;
}
