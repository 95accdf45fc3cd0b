/**
 * The text of the handled record's KV entries (handled.ts, done-floor.ts), written and read here only.
 *
 * A message's entry (`<sender>.<id>`): `claim <at> <P> <n>` (claim number n of process P: done once P's
 * floor covers n), `free <at>`, `quarantined <at>`; entries written before the done floor read as
 * `done <at>` (done) and `claim <at>` without P (in doubt, as a claim never covered).
 *
 * A process's floor (`=floor.<P>`, see {@link floorKey}): `floor <at> <H> [<hole> …]`: every claim of P
 * numbered at most H, except the holes, is finished.
 */

/** The state word that starts a message's entry. */
export type EntryState = 'claim' | 'done' | 'free' | 'quarantined';

/** A message's entry, as read. */
export interface Entry {
  state: EntryState | 'unknown';
  /** When it was written (ms since the epoch; NaN if unreadable). */
  at: number;
  /** For a claim written with the done floor: whose claim, and its number. */
  claimOf?: { process: string; n: number };
}

/** A process's done floor, as written and read: claims numbered ≤ `high`, except `holes`, are finished. */
export interface Floor {
  high: number;
  holes: ReadonlySet<number>;
}

/**
 * The KV key of process `p`'s floor. Its first token, `=floor`, is never a message key's: a message key's
 * tokens are plain (`[-A-Za-z0-9_]`) or `=` + base64url, and base64url text is never 5 characters long.
 */
export function floorKey(p: string): string {
  return `=floor.${p}`;
}

/** `claim <at> <P> <n>`. */
export function claimText(at: number, p: string, n: number): string {
  return `claim ${at} ${p} ${n}`;
}

/** `free <at>`, `quarantined <at>`. */
export function stateText(state: 'free' | 'quarantined', at: number): string {
  return `${state} ${at}`;
}

/** Read a message's entry (never throws: anything unreadable is `unknown`, which the record takes as in doubt). */
export function parseEntry(text: string): Entry {
  const [word, atText, p, nText] = text.split(' ');
  const at = Number(atText);
  const state: Entry['state'] = word === 'claim' || word === 'done' || word === 'free' || word === 'quarantined' ? word : 'unknown';
  if (state !== 'claim' || p === undefined || nText === undefined) return { state, at };
  const n = Number(nText);
  return Number.isSafeInteger(n) && n > 0 ? { state, at, claimOf: { process: p, n } } : { state: 'unknown', at };
}

/** `floor <at> <H> <holes…>`. */
export function floorText(at: number, f: Floor): string {
  return ['floor', at, f.high, ...[...f.holes].sort((a, b) => a - b)].join(' ');
}

/** Read a floor (undefined when unreadable: then it covers nothing). */
export function parseFloor(text: string): Floor | undefined {
  const [word, , ...numbers] = text.split(' ');
  const [high, ...holes] = numbers.map(Number);
  if (word !== 'floor' || high === undefined || ![high, ...holes].every((x) => Number.isSafeInteger(x) && x >= 0)) return undefined;
  return { high, holes: new Set(holes) };
}

/** Whether floor `f` covers claim number `n`: n ≤ H and not a hole. */
export function covers(f: Floor | undefined, n: number): boolean {
  return f !== undefined && n <= f.high && !f.holes.has(n);
}
