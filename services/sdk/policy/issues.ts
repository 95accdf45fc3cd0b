import type { LineCounter } from 'yaml';

/** One validation error of a policy file, located in the source. */
export interface PolicyIssue {
  file?: string;
  /** 1-based line and column of the offending node. */
  line: number;
  column: number;
  /** Key path of the offending node, e.g. `roles.ngo.receive[0].tier` (empty for the document). */
  key: string;
  message: string;
  /** `FILE:LINE:COL KEY: MESSAGE`, as printed. */
  text: string;
}

/** Collects located validation errors while a policy is walked. */
export class IssueList {
  readonly items: PolicyIssue[] = [];
  readonly #file: string | undefined;
  readonly #lines: LineCounter;

  constructor(file: string | undefined, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }

  /** Record an error at source offset `offset` (-1 or undefined: start of the file). */
  add(offset: number | undefined, key: string, message: string): void {
    const pos = offset !== undefined && offset >= 0 ? this.#lines.linePos(offset) : { line: 1, col: 1 };
    const line = Math.max(pos.line, 1);
    const column = pos.col;
    const where = `${this.#file ?? '<policy>'}:${line}:${column}`;
    const text = key ? `${where} ${key}: ${message}` : `${where} ${message}`;
    this.items.push({ ...(this.#file !== undefined ? { file: this.#file } : {}), line, column, key, message, text });
  }
}

/** The closest of `candidates` to `word` (edit distance ≤ 2), for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
