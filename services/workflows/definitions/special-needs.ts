import type { Refusal } from '../model.ts';
import { count, enumTail, flag, guardFail, list, text } from './read.ts';

/** Referral kinds whose person ¶10 asks to be treated with the special needs of women and children in view. */
const CARE_KINDS = ['protection', 'return'];

/**
 * The latest day a partly known birth date ("YYYY", "YYYY-MM", "YYYY-MM-DD") can stand for, in ms;
 * undefined when it is not a date. The latest day, so that a person who may be a child is taken as
 * one (presumption of minority).
 */
function latestBirth(raw: string): number | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(raw.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  if (m[3]) return Date.UTC(year, Number(m[2]) - 1, Number(m[3]));
  if (m[2]) return Date.UTC(year, Number(m[2]), 0);
  return Date.UTC(year, 11, 31);
}

/** True when a person born on `birthDate` may be under 18 at `now`. */
export function mayBeChild(birthDate: string, now: number): boolean {
  const born = latestBirth(birthDate);
  if (born === undefined) return false;
  const d = new Date(born);
  return Date.UTC(d.getUTCFullYear() + 18, d.getUTCMonth(), d.getUTCDate()) > now;
}

/**
 * Who in a referral ¶10 asks special needs to be stated for: the person if a woman or (possibly) a
 * child, an unaccompanied minor, accompanying children. Empty when none of these.
 */
export function specialNeedsConcerns(body: Record<string, unknown>, now: number): string[] {
  const subject = (body.subject ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  if (text(subject, 'sex') === 'SEX_FEMALE') out.push('a woman');
  if (flag(body, 'unaccompaniedMinor')) out.push('an unaccompanied child');
  else if (mayBeChild(text(subject, 'birthDate'), now)) out.push('a child');
  if (count(body, 'accompanyingChildren') > 0) out.push('accompanying children');
  return out;
}

/**
 * ¶10: every protection and return referral concerning a woman or a child must state their special
 * needs (`special_needs`; "none identified" when so), irrespective of nationality or status.
 */
export function specialNeedsGuard(body: Record<string, unknown>, now: number): Refusal | undefined {
  const kind = enumTail(text(body, 'kind'), 'REFERRAL_KIND_');
  if (!CARE_KINDS.includes(kind)) return undefined;
  const concerns = specialNeedsConcerns(body, now);
  if (concerns.length === 0 || list(body, 'specialNeeds').length > 0) return undefined;
  return guardFail(`a ${kind} referral concerning ${concerns.join(' and ')} must state the special needs of women and children (special_needs; "none identified" if so) (¶10)`);
}
