/**
 * Scoring of a person check against one stored alert (0–100) and the reasons given for it.
 *
 * | evidence                                                     | points |
 * |--------------------------------------------------------------|--------|
 * | an identifier equal in kind, issuing State and value         | 100 (the score, whatever else differs) |
 * | names: 60 × Dice overlap of canonical tokens (best spelling)  | 0–60   |
 * | birth date equal to the day                                  | +30    |
 * | birth year equal (one side partial, nothing contradicting)    | +20    |
 * | birth dates contradict (year differs / month or day differs)  | −40 / −20 |
 * | a nationality in common                                      | +10    |
 * | matched on an alias rather than the name                     | −5     |
 * | each token matched only through a spelling variant (max 2)   | −5     |
 *
 * Thresholds: a candidate is returned at {@link MIN_SCORE} (50) or more — e.g. the full name alone (60), or
 * half the tokens and the birth date (60); {@link HIT_SCORE} (85) or more is a hit (full name and birth date
 * = 90; full name, birth year and nationality = 90), below it a possible hit for human review. A surname alone
 * without a birth date (≤ 40) is never returned: it would flood officers.
 *
 * @module
 */
import type { BirthDate } from './normalise.ts';
import type { StoredAlert, StoredName, StoredToken, TokenRole } from './person-record.ts';

/** Lowest score returned as a candidate. */
export const MIN_SCORE = 50;
/** Lowest score reported as a hit (below: possible hit). */
export const HIT_SCORE = 85;

/** A query, reduced like the stored alerts. */
export interface PreparedQuery {
  readonly names: readonly StoredName[];
  readonly birth?: BirthDate;
  readonly nationalities: readonly string[];
  readonly identifiers: ReadonlySet<number>;
}

/** A scored candidate. */
export interface Scored {
  readonly score: number;
  readonly reasons: string[];
}

interface NameMatch {
  dice: number;
  alias: boolean;
  variants: TokenRole[];
}

function compareNames(q: StoredName, s: StoredName): NameMatch {
  const byCanonical = new Map<number, StoredToken[]>();
  for (const t of s.tokens) byCanonical.set(t.c, [...(byCanonical.get(t.c) ?? []), t]);
  const used = new Set<StoredToken>();
  const variants: TokenRole[] = [];
  let common = 0;
  for (const qt of q.tokens) {
    const pool = (byCanonical.get(qt.c) ?? []).filter((t) => !used.has(t));
    if (pool.length === 0) continue;
    const exact = pool.find((t) => t.n === qt.n);
    const chosen = exact ?? pool[0]!;
    used.add(chosen);
    common++;
    if (!exact) variants.push(chosen.role);
  }
  return { dice: (2 * common) / (q.tokens.length + s.tokens.length), alias: s.alias, variants };
}

function bestName(query: readonly StoredName[], alert: StoredAlert): NameMatch | undefined {
  let best: NameMatch | undefined;
  for (const q of query) {
    for (const s of alert.names) {
      const m = compareNames(q, s);
      if (m.dice === 0) continue;
      const better =
        !best ||
        m.dice > best.dice ||
        (m.dice === best.dice && (Number(best.alias) - Number(m.alias) > 0 || (m.alias === best.alias && m.variants.length < best.variants.length)));
      if (better) best = m;
    }
  }
  return best;
}

type BirthComparison = 'date' | 'year' | 'differs-year' | 'differs' | 'unknown';

function compareBirth(a?: BirthDate, b?: BirthDate): BirthComparison {
  if (!a || !b) return 'unknown';
  if (a.year !== b.year) return 'differs-year';
  if (a.month !== undefined && b.month !== undefined && a.month !== b.month) return 'differs';
  if (a.day !== undefined && b.day !== undefined) return a.day === b.day ? 'date' : 'differs';
  return 'year';
}

/** Score one alert against a prepared query; undefined when nothing matches at all. */
export function scoreAlert(q: PreparedQuery, alert: StoredAlert): Scored | undefined {
  const reasons: string[] = [];
  let identifier = false;
  for (const id of alert.identifiers) {
    if (q.identifiers.has(id.h)) {
      identifier = true;
      reasons.push(`identifier: ${id.kind.replaceAll('_', ' ')}${id.country ? ' ' + id.country : ''}`);
    }
  }
  const name = bestName(q.names, alert);
  if (!identifier && !name) return undefined;
  let score = 0;
  const birth = compareBirth(q.birth, alert.birth);
  if (name) {
    score += Math.round(60 * name.dice);
    let what = name.alias ? 'alias' : 'name';
    if (name.dice < 1) what = `partial ${what}`;
    if (birth === 'date') what += '+birth date';
    else if (birth === 'year') what += '+birth year';
    reasons.push(what);
    if (name.alias) score -= 5;
    score -= 5 * Math.min(2, name.variants.length);
    for (const role of new Set(name.variants)) reasons.push(`transliteration variant of ${role}`);
  }
  if (birth === 'date') score += 30;
  else if (birth === 'year') score += 20;
  else if (birth === 'differs-year') {
    score -= 40;
    reasons.push('birth year differs');
  } else if (birth === 'differs') {
    score -= 20;
    reasons.push('birth date differs');
  }
  const shared = q.nationalities.find((c) => alert.nationalities.includes(c));
  if (shared) {
    score += 10;
    reasons.push(`nationality ${shared}`);
  }
  score = identifier ? 100 : Math.max(0, Math.min(99, score));
  return { score, reasons };
}
