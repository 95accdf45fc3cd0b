/** One refused item (a CSV row, a message) with where it was and why. */
export interface LocatedError {
  line: number;
  error: string;
}

/** Errors of one kind: how many, and the first few lines where it happened. */
export interface ErrorGroup {
  reason: string;
  /** The first error of the group as it was (with its values). */
  example: string;
  count: number;
  lines: number[];
}

/** Lines kept per reason for the summary (the whole list goes to `--errors-file`). */
export const LINES_PER_REASON = 5;

/**
 * The reason an error stands for, without the values that differ row to row: quoted values become `"…"`,
 * numbers `N` — so 12,487 rows with `status: "stolenn" is not one of …` group as one reason.
 */
export function reasonOf(error: string): string {
  return error.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\b\d+(\.\d+)?\b/g, 'N');
}

/** Group errors by reason, most frequent first (then by first line), keeping the first lines of each. */
export function groupErrors(errors: readonly LocatedError[], perReason: number = LINES_PER_REASON): ErrorGroup[] {
  const groups = new Map<string, ErrorGroup>();
  for (const e of errors) {
    const reason = reasonOf(e.error);
    let g = groups.get(reason);
    if (!g) groups.set(reason, (g = { reason, example: e.error, count: 0, lines: [] }));
    g.count++;
    if (g.lines.length < perReason) g.lines.push(e.line);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.lines[0]! - b.lines[0]!);
}

/** The summary lines: `N × <the first error> — lines a, b, c, …` (`(and alike)` when the others differ in their values). */
export function formatGroups(groups: readonly ErrorGroup[]): string[] {
  return groups.map((g) => `${String(g.count).padStart(6)} × ${g.example}${g.count > 1 ? ' (and alike)' : ''} — line${g.lines.length > 1 ? 's' : ''} ${g.lines.join(', ')}${g.count > g.lines.length ? ', …' : ''}`);
}
