/**
 * The catalogue of good practices (¶11, ¶18) the multiagency centre keeps for its strategic reports:
 * each PracticeNote it received, by its public fields only (the whole note is public by schema).
 *
 * @module
 */

/** A shared good practice as the centre keeps it (with the facts of its PracticeNote). */
export interface PracticeEntry {
  /** PracticeTopic enum name, e.g. `PRACTICE_TOPIC_COOPERATION_AT_SEA`. */
  topic: string;
  title: string;
  /** Resolution paragraphs it serves. */
  paragraphs: string[];
  summary: string;
  contact: string;
  /** The agency that shared it. */
  sharedBy: string;
  /** When it was shared (ms). */
  sharedAt: number;
}

/** Longest catalogue a report carries (newest first). */
export const MAX_CATALOGUE = 50;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The catalogue entry of a PracticeNote body (protobuf JSON) shared by `sharedBy` at `sharedAt`. */
export function practiceOf(body: Record<string, unknown>, sharedBy: string, sharedAt: number): PracticeEntry {
  const paragraphs = Array.isArray(body.paragraphs) ? body.paragraphs.filter((p): p is string => typeof p === 'string') : [];
  return { topic: str(body.topic) || 'PRACTICE_TOPIC_UNSPECIFIED', title: str(body.title), paragraphs, summary: str(body.summary), contact: str(body.contact), sharedBy, sharedAt };
}

/**
 * The catalogue of the practices among `facts` (the facts of messages not retracted), newest first,
 * at most {@link MAX_CATALOGUE}. Not limited to the report's period: a practice stays worth knowing.
 */
export function practiceCatalogue(facts: readonly { practice?: PracticeEntry }[]): PracticeEntry[] {
  return facts
    .flatMap((f) => (f.practice ? [f.practice] : []))
    .sort((a, b) => b.sharedAt - a.sharedAt || (a.title < b.title ? -1 : 1))
    .slice(0, MAX_CATALOGUE);
}

/** A catalogue entry as StrategicReport.Practice (protobuf JSON). */
export function practiceField(p: PracticeEntry): Record<string, unknown> {
  return { topic: p.topic, title: p.title, paragraphs: p.paragraphs, summary: p.summary, contact: p.contact, sharedBy: p.sharedBy, sharedAt: new Date(p.sharedAt).toISOString() };
}
