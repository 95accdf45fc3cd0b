/** Where progress goes: a stream that may be a terminal. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * One self-overwriting status line for long work (import, snapshot, policy apply), on a terminal only: in a
 * pipe, a file or CI nothing is written, so scripts see just the final result. At most one redraw per
 * `everyMs`; `done()` clears the line.
 */
export class Progress {
  readonly #out: ProgressStream;
  readonly #everyMs: number;
  readonly #now: () => number;
  #last = -Infinity;
  #shown = false;

  constructor(out: ProgressStream = process.stderr, o: { everyMs?: number; now?: () => number } = {}) {
    this.#out = out;
    this.#everyMs = o.everyMs ?? 250;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Show `text` (throttled); nothing when the stream is not a terminal. */
  update(text: string): void {
    if (this.#out.isTTY !== true) return;
    const t = this.#now();
    if (t - this.#last < this.#everyMs) return;
    this.#last = t;
    this.#out.write(`\r\x1b[2K${text}`);
    this.#shown = true;
  }

  /** Clear the line (the caller then prints its result). */
  done(): void {
    if (this.#shown) this.#out.write('\r\x1b[2K');
    this.#shown = false;
  }
}
