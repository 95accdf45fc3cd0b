/**
 * A correlation record as the JSON its bucket stores, each occurrence serialised once per process (issue 16: the
 * centre wrote a hot value's whole record, up to {@link MAX_OCCURRENCES} occurrences, at every change of it, and
 * `JSON.stringify` of the record was the centre's own largest CPU cost on its bench). A record's occurrences are
 * never changed once made (changes copy the record and reuse them), so the JSON of each is remembered by identity;
 * records read from the bucket bring new objects, serialised once at their first write. The stored JSON is what
 * `JSON.stringify` makes, but for the order of the record's keys (`occurrences` last), which readers never rely on.
 * Memory: the JSON kept lives as long as its occurrence, i.e. mostly that of the records the {@link EntityCache} holds:
 * about its bound again (16 MiB by default). A growing record of 500 occurrences written at each of them: 166 → 50 ms.
 */
import type { EntityCache } from './entity-cache.ts';
import type { EntityRecord, MAX_OCCURRENCES, Occurrence } from './store.ts';

/** The JSON of each occurrence serialised so far (dropped with the occurrence). */
const occurrenceJson = new WeakMap<Occurrence, string>();

function jsonOf(o: Occurrence): string {
  let json = occurrenceJson.get(o);
  if (json === undefined) occurrenceJson.set(o, (json = JSON.stringify(o)));
  return json;
}

/** `record` as JSON (parsed back by `JSON.parse` to an equal record). */
export function recordJson(record: EntityRecord): string {
  const { occurrences, ...rest } = record;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head === '{}' ? '' : ','}"occurrences":[${occurrences.map(jsonOf).join(',')}]}`;
}
