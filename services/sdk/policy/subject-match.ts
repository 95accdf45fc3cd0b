/**
 * NATS subject matching, as the server applies permissions and consumer filters: tokens are
 * separated by `.`; `*` matches exactly one token; `>` (only as the last token) matches one or more
 * remaining tokens. Used by the policy tools to show which compiled permission allows a subject,
 * and by the tests that check the tools against the compiled broker artefacts.
 */

/** True when `pattern` (a permission or filter subject, wildcards allowed) covers the literal `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === '' || subject === '') return false;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i]!;
    if (token === '') return false;
    if (token === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length || s[i] === '') return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}

/** The first of `patterns` that covers `subject`, or undefined. */
export function coveringPattern(patterns: readonly string[], subject: string): string | undefined {
  return patterns.find((p) => subjectMatches(p, subject));
}
