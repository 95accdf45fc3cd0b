import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { normaliseCountry, normaliseDocumentNumber } from './index/normalise.ts';

/** Most number ranges one forgery alert may list (a bigger alert is refused whole). */
export const MAX_RANGES_PER_ALERT = 1_000;
/** Most running-number digits a range may have. */
const MAX_DIGITS = 18;

const TYPE_PREFIX = 'DOCUMENT_TYPE_';

/** An alert that flags a checked number: its reference and who raised it. */
export interface AlertMatch {
  reference: string;
  sender: string;
  alertId: string;
}

/** One alerted block of numbers: `series` followed by a running number of `digits` digits in [first, last]. */
interface AlertedRange {
  /** The sender's alert reference, quoted to the checking officer. */
  reference: string;
  /** (sender, header id) of the ForgeryAlert: a message is (sender, id). */
  sender: string;
  alertId: string;
  /** Document type (`PASSPORT`), or `UNSPECIFIED`: any type. */
  documentType: string;
  series: string;
  digits: number;
  first: bigint;
  last: bigint;
}

function documentTypeOf(value: unknown): string {
  return typeof value === 'string' && value.startsWith(TYPE_PREFIX) ? value.slice(TYPE_PREFIX.length) : 'UNSPECIFIED';
}

function invalid(reason: string, index: number): never {
  throw new LiaisonError('ERR_BODY_INVALID', `forgery alert affected_ranges[${index}]: ${reason}`, { field: `affected_ranges[${index}]` });
}

/** One range of the body (protobuf JSON), normalised like the registry's document numbers. */
function parseRange(raw: unknown, index: number): { series: string; digits: number; first: bigint; last: bigint } {
  const r = (raw ?? {}) as Record<string, unknown>;
  const seriesText = String(r.series ?? '');
  const series = seriesText === '' ? '' : normaliseDocumentNumber(seriesText);
  const first = String(r.firstNumber ?? '');
  const last = String(r.lastNumber ?? '');
  if (!/^\d+$/.test(first) || !/^\d+$/.test(last)) invalid('first_number and last_number must be digits', index);
  if (first.length !== last.length || first.length > MAX_DIGITS) invalid(`first_number and last_number must have the same number of digits (at most ${MAX_DIGITS})`, index);
  if (BigInt(first) > BigInt(last)) invalid(`first_number ${first} is after last_number ${last}`, index);
  return { series, digits: first.length, first: BigInt(first), last: BigInt(last) };
}

/**
 * The number ranges of the forgery alerts the registry received (¶12), by issuing state: a document check
 * whose number falls in one is flagged with the alert's reference (¶16), whether or not a record matches.
 * A number matches a range when, normalised like every registry number, it is the range's series followed by
 * exactly its number of digits, within [first, last]; the document type must agree unless either is unstated.
 */
export class AlertedRanges {
  readonly #byCountry = new Map<string, AlertedRange[]>();

  /** Ranges held (for stats). */
  get size(): number {
    let n = 0;
    for (const list of this.#byCountry.values()) n += list.length;
    return n;
  }

  /** Add the ranges of a ForgeryAlert; throws ERR_BODY_INVALID (nothing added) when a range or the country is bad. */
  add(msg: ReceivedMessage): number {
    const country = normaliseCountry(String(msg.body.issuingCountry ?? ''));
    const list = Array.isArray(msg.body.affectedRanges) ? msg.body.affectedRanges : [];
    if (list.length > MAX_RANGES_PER_ALERT) throw new LiaisonError('ERR_BODY_INVALID', `a forgery alert may list at most ${MAX_RANGES_PER_ALERT} ranges (got ${list.length})`);
    const parsed = list.map(parseRange);
    this.withdraw(msg.header.id, msg.header.sender);
    const reference = String(msg.body.alertReference ?? '') || msg.header.id;
    const documentType = documentTypeOf(msg.body.documentType);
    const into = this.#byCountry.get(country) ?? [];
    for (const r of parsed) into.push({ reference, sender: msg.header.sender, alertId: msg.header.id, documentType, ...r });
    this.#byCountry.set(country, into);
    return parsed.length;
  }

  /** Drop the ranges of one alert (its sender retracted it); returns how many. */
  withdraw(alertId: string, sender: string): number {
    let dropped = 0;
    for (const [country, list] of this.#byCountry) {
      const kept = list.filter((r) => !(r.alertId === alertId && r.sender === sender));
      dropped += list.length - kept.length;
      if (kept.length === 0) this.#byCountry.delete(country);
      else this.#byCountry.set(country, kept);
    }
    return dropped;
  }

  /** The alerts (by reference, sorted, one entry each) whose ranges hold this normalised number of this country. */
  match(country: string, documentType: unknown, number: string): AlertMatch[] {
    const type = documentTypeOf(documentType);
    const out = new Map<string, AlertMatch>();
    for (const r of this.#byCountry.get(country) ?? []) {
      if (type !== 'UNSPECIFIED' && r.documentType !== 'UNSPECIFIED' && r.documentType !== type) continue;
      if (number.length !== r.series.length + r.digits || !number.startsWith(r.series)) continue;
      const tail = number.slice(r.series.length);
      if (!/^\d+$/.test(tail)) continue;
      const n = BigInt(tail);
      if (n >= r.first && n <= r.last && !out.has(r.reference)) out.set(r.reference, { reference: r.reference, sender: r.sender, alertId: r.alertId });
    }
    return [...out.values()].sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0));
  }
}

/** The words a check answer carries for each alert that flags it. */
export function alertedNote(reference: string): string {
  return `alerted: forgery alert ${reference}`;
}
