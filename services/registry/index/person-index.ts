/**
 * The person-alert index (¶16: persons convicted or suspected of art. 6 offences). Sized for up to about a million
 * alerts, it is built from Maps over keyed hashes rather than typed arrays:
 * - by identifier: keyed hash of (kind, issuing State, normalised value) → alerts;
 * - by canonical name token: keyed hash of the token's canonical key → alerts (aliases included), and the same
 *   token combined with the birth year (or "no year") so a check with a birth date touches only that year's
 *   bucket and the alerts whose year is unknown.
 * Candidates from those buckets are scored by {@link scoreAlert} (thresholds in ./person-match.ts) and returned
 * best first, each with the reasons it matched.
 *
 * @module
 */
import type { KeyedHasher } from './keyed-hash.ts';
import { normaliseBirthDate, normaliseCountry } from './normalise.ts';
import { MIN_SCORE, scoreAlert, type PreparedQuery } from './person-match.ts';
import {
  identifierHash,
  storeAlert,
  storedNames,
  type PersonAlertInput,
  type PersonIdentifierInput,
  type PersonNameInput,
  type StoredAlert,
} from './person-record.ts';

/** A person check. */
export interface PersonQuery {
  /** The names as presented (the first is the name, the rest other names given). */
  readonly names: readonly PersonNameInput[];
  readonly birthDate?: string;
  /** ICAO code(s) of the nationality presented. */
  readonly nationality?: string | readonly string[];
  readonly identifiers?: readonly PersonIdentifierInput[];
  /** Lowest score returned (default {@link MIN_SCORE}). */
  readonly minScore?: number;
  /** Most candidates returned (default 20). */
  readonly limit?: number;
}

/** One candidate alert. */
export interface PersonCandidate {
  readonly ref: string;
  readonly owner: string;
  readonly seq: number;
  /** 0–100; 100 only for an identifier match. */
  readonly score: number;
  /** Why it matched: `identifier: passport XAA`, `name+birth date`, `alias+birth year`, `transliteration variant of surname`… */
  readonly reasons: readonly string[];
}

/** Options of a {@link PersonIndex}. */
export interface PersonIndexOptions {
  readonly hasher: KeyedHasher;
}

const NO_YEAR = 'none';

function add(map: Map<number | string, Set<number>>, key: number | string, id: number): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(id);
}

function drop(map: Map<number | string, Set<number>>, key: number | string, id: number): void {
  const s = map.get(key);
  if (s && s.delete(id) && s.size === 0) map.delete(key);
}

/** The person-alert index. */
export class PersonIndex {
  readonly hasher: KeyedHasher;
  readonly #alerts: (StoredAlert | undefined)[] = [];
  readonly #byRef = new Map<string, number>();
  readonly #byIdentifier = new Map<number | string, Set<number>>();
  readonly #byToken = new Map<number | string, Set<number>>();
  readonly #byTokenYear = new Map<number | string, Set<number>>();

  constructor(options: PersonIndexOptions) {
    this.hasher = options.hasher;
  }

  /** Rebuild from stored alerts (snapshot load); no hashing needed. */
  static fromStored(hasher: KeyedHasher, alerts: Iterable<StoredAlert>): PersonIndex {
    const index = new PersonIndex({ hasher });
    for (const a of alerts) index.#put(a);
    return index;
  }

  /** Number of alerts held. */
  get size(): number {
    return this.#byRef.size;
  }

  /** Add or replace an alert (by `ref`). Returns 'added' or 'updated'. Throws `ERR_BODY_INVALID` on bad input. */
  upsert(alert: PersonAlertInput): 'added' | 'updated' {
    const stored = storeAlert(this.hasher, alert);
    const existed = this.remove(alert.ref);
    this.#put(stored);
    return existed ? 'updated' : 'added';
  }

  /** Remove an alert (withdrawn or lapsed); true when it existed. */
  remove(ref: string): boolean {
    const id = this.#byRef.get(ref);
    if (id === undefined) return false;
    const a = this.#alerts[id]!;
    for (const [map, key] of this.#keys(a)) drop(map, key, id);
    this.#alerts[id] = undefined;
    this.#byRef.delete(ref);
    return true;
  }

  /** The stored form of an alert (hashes only). */
  get(ref: string): StoredAlert | undefined {
    const id = this.#byRef.get(ref);
    return id === undefined ? undefined : this.#alerts[id];
  }

  /** Every stored alert. */
  *alerts(): IterableIterator<StoredAlert> {
    for (const a of this.#alerts) if (a) yield a;
  }

  /** Candidates for a person check, best first (score, then ref). Throws `ERR_BODY_INVALID` on bad input. */
  match(query: PersonQuery): PersonCandidate[] {
    const birth = query.birthDate ? normaliseBirthDate(query.birthDate) : undefined;
    const nat = query.nationality === undefined ? [] : typeof query.nationality === 'string' ? [query.nationality] : query.nationality;
    const q: PreparedQuery = {
      names: query.names.flatMap((n) => storedNames(this.hasher, n, false)),
      ...(birth ? { birth } : {}),
      nationalities: nat.map((c) => normaliseCountry(c, 'nationality')),
      identifiers: new Set((query.identifiers ?? []).map((i) => identifierHash(this.hasher, i).h)),
    };
    const ids = new Set<number>();
    const collect = (s: Set<number> | undefined): void => s?.forEach((id) => ids.add(id));
    for (const h of q.identifiers) collect(this.#byIdentifier.get(h));
    for (const name of q.names) {
      for (const t of name.tokens) {
        if (birth) {
          collect(this.#byTokenYear.get(`${t.c}|${birth.year}`));
          collect(this.#byTokenYear.get(`${t.c}|${NO_YEAR}`));
        } else {
          collect(this.#byToken.get(t.c));
        }
      }
    }
    const min = query.minScore ?? MIN_SCORE;
    const out: PersonCandidate[] = [];
    for (const id of ids) {
      const a = this.#alerts[id]!;
      const s = scoreAlert(q, a);
      if (s && s.score >= min) out.push({ ref: a.ref, owner: a.owner, seq: a.seq, score: s.score, reasons: s.reasons });
    }
    out.sort((x, y) => y.score - x.score || (x.ref < y.ref ? -1 : x.ref > y.ref ? 1 : 0));
    return out.slice(0, query.limit ?? 20);
  }

  #put(a: StoredAlert): void {
    const id = this.#alerts.length;
    this.#alerts.push(a);
    this.#byRef.set(a.ref, id);
    for (const [map, key] of this.#keys(a)) add(map, key, id);
  }

  #keys(a: StoredAlert): [Map<number | string, Set<number>>, number | string][] {
    const keys: [Map<number | string, Set<number>>, number | string][] = [];
    for (const i of a.identifiers) keys.push([this.#byIdentifier, i.h]);
    const year = a.birth ? String(a.birth.year) : NO_YEAR;
    for (const n of a.names) {
      for (const t of n.tokens) {
        keys.push([this.#byToken, t.c]);
        keys.push([this.#byTokenYear, `${t.c}|${year}`]);
      }
    }
    return keys;
  }
}
