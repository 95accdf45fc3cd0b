/**
 * Progress of a registry snapshot load or write, so a start with millions of records does not look hung: the
 * registry logs it and `liaison registry up` shows it as a progress line on a terminal.
 *
 * Sections are columnar arrays, not records one by one, so records done are counted from bytes done:
 * `records = floor(total × bytes / totalBytes)`, monotone and exactly `total` at the end.
 *
 * @module
 */

/** One progress report. */
export interface SnapshotProgressEvent {
  /**
   * Loading a snapshot at start; or, for a snapshot taken, preparing it (copying the tables, then hashing them
   * and the references, in memory) and then writing it to the store.
   */
  phase: 'load' | 'prepare' | 'write';
  /** Records (documents and person alerts) done so far. */
  records: number;
  /** Records in the snapshot. */
  total: number;
  /** Bytes read or written so far. */
  bytes: number;
  /** Bytes in the snapshot. */
  totalBytes: number;
}

/** Called with each progress report, at a bounded rate ({@link SnapshotMeter}). */
export type OnSnapshotProgress = (e: SnapshotProgressEvent) => void;

/** Default bound: at most one report per 250 ms (≈ 15 for a 3.8 s load of 10 M records), plus the last. */
export const PROGRESS_EVERY_MS = 250;

/**
 * Turns byte counts into throttled {@link SnapshotProgressEvent}s: at most one per `everyMs`, the first `everyMs`
 * after the start (work done sooner reports only its end: no noise for small snapshots), never two with the same
 * count, and a last one at `total` from {@link SnapshotMeter.finish} only.
 * Nothing is reported before the totals are known ({@link SnapshotMeter.setTotals}).
 */
export class SnapshotMeter {
  readonly #phase: SnapshotProgressEvent['phase'];
  readonly #on: OnSnapshotProgress;
  readonly #everyMs: number;
  readonly #now: () => number;
  #total = -1;
  #totalBytes = 0;
  #lastRecords = -1;
  #lastAt: number;

  constructor(
    phase: SnapshotProgressEvent['phase'],
    on: OnSnapshotProgress,
    o: { everyMs?: number; now?: () => number } = {},
  ) {
    this.#phase = phase;
    this.#on = on;
    this.#everyMs = o.everyMs ?? PROGRESS_EVERY_MS;
    this.#now = o.now ?? (() => performance.now());
    this.#lastAt = this.#now();
  }

  /** The snapshot's size, once known (a load learns it from the manifest). */
  setTotals(records: number, bytes: number): void {
    this.#total = records;
    this.#totalBytes = bytes;
  }

  /** `bytes` of the snapshot are done: report when due. */
  bytes(bytes: number): void {
    if (this.#total < 0) return;
    const done = Math.min(bytes, this.#totalBytes);
    const records = this.#totalBytes > 0 ? Math.floor((this.#total * done) / this.#totalBytes) : this.#total;
    // The report at `total` is finish()'s: a load is done only once every check passed, a write once stored.
    if (records <= this.#lastRecords || records >= this.#total) return;
    const t = this.#now();
    if (t - this.#lastAt < this.#everyMs) return;
    this.#report(records, done, t);
  }

  /** The work is complete: the last report, at `total` (unless already made). */
  finish(): void {
    if (this.#total >= 0 && this.#lastRecords < this.#total) this.#report(this.#total, this.#totalBytes, this.#now());
  }

  #report(records: number, bytes: number, t: number): void {
    this.#lastRecords = records;
    this.#lastAt = t;
    this.#on({ phase: this.#phase, records, total: this.#total, bytes, totalBytes: this.#totalBytes });
  }
}
