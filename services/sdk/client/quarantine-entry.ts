import { parseMessageSubject, SUBJECT_ROOT } from '../subjects.ts';

/**
 * What one message on the quarantine stream says, and how an agency's quarantine is summed up: what is
 * waiting (by reason), what was replayed. The quarantine holds two kinds of message on an agency's own
 * subject: a refused or undeliverable copy (its original signed envelope, with the headers below), and a
 * replay marker (no body) that the agency publishes when its operator replays an entry — so the decision is
 * on the stream (and in the audit ledger) next to what it decided about.
 */

/** The headers of a quarantined copy (set by quarantine.ts) and of a replay marker. */
export const QUARANTINE_HEADERS = {
  code: 'liaison-reject-code',
  reason: 'liaison-reject-reason',
  originalSubject: 'liaison-original-subject',
  sender: 'liaison-sender',
  id: 'liaison-msg-id',
  deliveryCount: 'liaison-delivery-count',
  /** Where the copy was delivered from: stream, stream sequence, consumer (what a replay re-delivers). */
  stream: 'liaison-original-stream',
  streamSeq: 'liaison-original-seq',
  consumer: 'liaison-consumer',
  /** On a replay marker: the quarantine sequence of the entry replayed, and what became of it. */
  replayOf: 'liaison-replay-of',
  replayOutcome: 'liaison-replay-outcome',
} as const;

/** The three reasons an agency's quarantine is counted by. */
export type QuarantineReason = 'inDoubt' | 'deadLetter' | 'other';

/** One quarantined copy as listed to its agency and its operator. */
export interface QuarantinedCopy {
  /** Its sequence on the quarantine stream (what a replay names). */
  seq: number;
  /** When it was quarantined (ISO 8601). */
  at: string;
  /** The agency whose quarantine holds it. */
  agency: string;
  code: string;
  reason: string;
  sender?: string;
  id?: string;
  /** Its type without `liaison.v1.` (e.g. `IntelligenceReport`). */
  type?: string;
  deliveryCount?: number;
  originalSubject?: string;
  /** Where it was delivered from, when the SDK recorded it (in-doubt and dead-lettered copies). */
  from?: { stream: string; streamSeq: number; consumer: string };
  /** Set once the agency replayed it: when, and what became of it (`replayed`, `already-handled`). */
  replayed?: { at: string; outcome: string };
}

/** A listed entry: the copy, and whether its original is still on its stream (so a replay can re-deliver it). */
export type ListedCopy = QuarantinedCopy & { available?: boolean };

/** A replay marker: the agency replayed entry `replayOf`. */
export interface ReplayMarker {
  replayOf: number;
  at: string;
  outcome: string;
}

/** What the reader gives of one stored quarantine message. */
export interface StoredQuarantine {
  seq: number;
  subject: string;
  storedAt: string;
  header: (name: string) => string | undefined;
}

const QUARANTINE_PREFIX = `${SUBJECT_ROOT}.quarantine.`;

function positiveInt(text: string | undefined): number | undefined {
  const n = text === undefined ? NaN : Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function shortType(t: string): string {
  return t.startsWith(`${SUBJECT_ROOT}.`) ? t.slice(SUBJECT_ROOT.length + 1) : t;
}

/** Read one stored quarantine message: a quarantined copy, a replay marker, or undefined (not an agency's quarantine subject). */
export function parseQuarantined(m: StoredQuarantine): QuarantinedCopy | ReplayMarker | undefined {
  if (!m.subject.startsWith(QUARANTINE_PREFIX)) return undefined;
  const agency = m.subject.slice(QUARANTINE_PREFIX.length);
  const h = QUARANTINE_HEADERS;
  const replayOf = positiveInt(m.header(h.replayOf));
  if (replayOf !== undefined) return { replayOf, at: m.storedAt, outcome: m.header(h.replayOutcome) ?? 'replayed' };
  const original = m.header(h.originalSubject);
  const parsed = original ? parseMessageSubject(original) : undefined;
  const ceType = m.header('ce-type');
  const sender = m.header(h.sender) ?? parsed?.sender;
  const id = m.header(h.id) ?? m.header('ce-id');
  const type = ceType ? shortType(ceType) : parsed?.type;
  const deliveryCount = positiveInt(m.header(h.deliveryCount));
  const stream = m.header(h.stream);
  const streamSeq = positiveInt(m.header(h.streamSeq));
  const consumer = m.header(h.consumer);
  return {
    seq: m.seq,
    at: m.storedAt,
    agency,
    code: m.header(h.code) ?? 'unknown',
    reason: m.header(h.reason) ?? '',
    ...(sender ? { sender } : {}),
    ...(id ? { id } : {}),
    ...(type ? { type } : {}),
    ...(deliveryCount ? { deliveryCount } : {}),
    ...(original ? { originalSubject: original } : {}),
    ...(stream && streamSeq && consumer ? { from: { stream, streamSeq, consumer } } : {}),
  };
}

/** Apply the replay markers to the copies they name (in stream order): each copy once, replayed or not. */
export function foldQuarantine(items: readonly (QuarantinedCopy | ReplayMarker)[]): QuarantinedCopy[] {
  const copies = new Map<number, QuarantinedCopy>();
  for (const it of items) {
    if ('replayOf' in it) {
      const c = copies.get(it.replayOf);
      if (c && !c.replayed) c.replayed = { at: it.at, outcome: it.outcome };
    } else copies.set(it.seq, { ...it });
  }
  return [...copies.values()].sort((a, b) => a.seq - b.seq);
}

/** Which of the three counted reasons a refusal code is. */
export function reasonOf(code: string): QuarantineReason {
  return code === 'ERR_IN_DOUBT' ? 'inDoubt' : code === 'ERR_DEAD_LETTER' ? 'deadLetter' : 'other';
}

/** An agency's quarantine in figures: what waits, by reason, and how many entries were replayed. */
export interface QuarantineCounts {
  inDoubt: number;
  deadLetter: number;
  other: number;
  replayed: number;
}

/** Count the copies of one agency's quarantine (folded: a replayed entry counts as replayed, not as waiting). */
export function countQuarantine(copies: readonly QuarantinedCopy[]): QuarantineCounts {
  const out: QuarantineCounts = { inDoubt: 0, deadLetter: 0, other: 0, replayed: 0 };
  for (const c of copies) {
    if (c.replayed) out.replayed++;
    else out[reasonOf(c.code)]++;
  }
  return out;
}

/** A copy a replay can hand to the handler again: in doubt or dead-lettered, with where it was delivered from. */
export function replayable<T extends QuarantinedCopy>(c: T): c is T & { sender: string; id: string; from: NonNullable<QuarantinedCopy['from']> } {
  return (c.code === 'ERR_IN_DOUBT' || c.code === 'ERR_DEAD_LETTER') && !!c.sender && !!c.id && !!c.from;
}

/** The replica of an agency's services a consumer name belongs to (`…__r<k>`; 1 without the suffix). */
export function replicaOfConsumer(consumer: string): number {
  const m = /__r(\d+)$/.exec(consumer);
  return m ? Number(m[1]) : 1;
}
