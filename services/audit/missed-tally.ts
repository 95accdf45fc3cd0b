import type { EntryBody, MissedRequests, QueriesMissedEntry } from './entry.ts';

/** Why a request was not recorded: its queue was full, or its entry could not be appended. */
export type MissReason = 'queue-full' | 'append-failed';

/** The body of a `queries-missed` entry (before it is numbered and chained). */
export type QueriesMissedBody = Extract<EntryBody, { kind: 'queries-missed' }>;

/**
 * The service and requester a request subject names: `liaison.v1.svc.<family>.<Type>.<agency>` (the broker lets only
 * that agency publish there), `exchange.replay` for replay requests. Nothing of the body is read: a request not
 * recorded is not verified either.
 */
export function requestSubjectFacts(subject: string): { service: string; requester: string } {
  const t = subject.split('.');
  return { service: t.length >= 5 ? `${t[3]}.${t[4]}` : subject, requester: t.length === 6 ? t[5]! : '?' };
}

/**
 * Requests the audit did not record, counted per (service, requester) with their first and last arrival, until
 * {@link close} turns them into one `queries-missed` entry body. Holds one counter per distinct pair, never the
 * requests.
 */
export class MissedTally {
  readonly #by = new Map<string, MissedRequests>();
  readonly #reasons = new Set<MissReason>();
  #count = 0;

  /** True while requests are counted and not yet closed into an entry. */
  get open(): boolean {
    return this.#count > 0;
  }

  /** Requests counted since the last {@link close}. */
  get count(): number {
    return this.#count;
  }

  /** Count one request not recorded, arrived at `at` (ISO 8601) on `subject`. */
  add(subject: string, at: string, reason: MissReason): void {
    const { service, requester } = requestSubjectFacts(subject);
    this.#merge({ service, requester, count: 1, from: at, to: at }, reason);
  }

  /** Count again the requests of a `queries-missed` body that could not be appended. */
  restore(body: QueriesMissedBody): void {
    for (const m of body.missed) this.#merge(m, 'append-failed');
    for (const r of body.reasons) this.#reasons.add(r as MissReason);
  }

  /** The entry body saying what was counted (recorded at `at`), and a fresh tally; undefined when nothing was. */
  close(at: string): QueriesMissedBody | undefined {
    if (this.#count === 0) return undefined;
    const missed = [...this.#by.values()].sort((a, b) => a.service.localeCompare(b.service) || a.requester.localeCompare(b.requester));
    const body: Omit<QueriesMissedEntry, 'v' | 'n' | 'prev'> = {
      kind: 'queries-missed',
      at,
      from: missed.reduce((min, m) => (m.from < min ? m.from : min), missed[0]!.from),
      to: missed.reduce((max, m) => (m.to > max ? m.to : max), missed[0]!.to),
      count: this.#count,
      reasons: [...this.#reasons].sort(),
      missed,
    };
    this.#by.clear();
    this.#reasons.clear();
    this.#count = 0;
    return body;
  }

  #merge(m: MissedRequests, reason: MissReason): void {
    const key = `${m.service}\u0000${m.requester}`;
    const had = this.#by.get(key);
    if (had) {
      had.count += m.count;
      if (m.from < had.from) had.from = m.from;
      if (m.to > had.to) had.to = m.to;
    } else this.#by.set(key, { ...m });
    this.#reasons.add(reason);
    this.#count += m.count;
  }
}
