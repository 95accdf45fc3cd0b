/**
 * Normalisation of what the registry compares: document numbers, issuing-state codes, person names and birth dates.
 * Every function either returns the normal form or throws {@link LiaisonError} `ERR_BODY_INVALID` naming the field.
 *
 * @module
 */
import { LiaisonError } from '../../sdk/errors.ts';
import { ICAO_CODE_ALIASES, isIcaoCode } from './icao-codes.ts';
import { canonicalToken, joinCompounds } from './name-variants.ts';
import { transliterate } from './transliteration.ts';

/** Longest normalised document number accepted (MRZ numbers are 9; national formats reach ~20). */
export const MAX_DOCUMENT_NUMBER_LENGTH = 40;

/**
 * Cyrillic and Greek capitals that look exactly like a Latin letter. Travel-document numbers are printed in Latin
 * letters (the MRZ allows nothing else), so one of these in a number is a keyboard-layout slip and is read as the
 * Latin letter it imitates.
 */
export const DOCUMENT_NUMBER_HOMOGLYPHS: Readonly<Record<string, string>> = {
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', І: 'I', Ј: 'J', Ѕ: 'S',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
};

/**
 * Normalise a document number: NFKC (full-width `ＡＢ１２` → `AB12`, other compatibility look-alikes), uppercase,
 * Cyrillic/Greek look-alike capitals → Latin ({@link DOCUMENT_NUMBER_HOMOGLYPHS}), and keep only letters A–Z and
 * digits 0–9 — spaces, hyphens, dots, slashes, MRZ fillers `<` and every other separator or symbol are dropped.
 * Throws `ERR_BODY_INVALID` when nothing remains, when another letter or digit remains (e.g. `Ж`, `٣`), or
 * when the result exceeds 40 characters.
 */
export function normaliseDocumentNumber(raw: string): string {
  if (raw.length <= MAX_DOCUMENT_NUMBER_LENGTH && /^[A-Z0-9]+$/.test(raw)) return raw;
  const s = raw.normalize('NFKC').toUpperCase();
  let out = '';
  for (const ch of s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) out += ch;
    else if (DOCUMENT_NUMBER_HOMOGLYPHS[ch] !== undefined) out += DOCUMENT_NUMBER_HOMOGLYPHS[ch];
    else if (/[\p{L}\p{N}]/u.test(ch)) {
      throw new LiaisonError('ERR_BODY_INVALID', `document number: character "${ch}" is not a Latin letter or digit`, { field: 'document_number' });
    }
  }
  if (out.length === 0) throw new LiaisonError('ERR_BODY_INVALID', 'document number: empty after normalisation', { field: 'document_number' });
  if (out.length > MAX_DOCUMENT_NUMBER_LENGTH) {
    throw new LiaisonError('ERR_BODY_INVALID', `document number: ${out.length} characters after normalisation (max ${MAX_DOCUMENT_NUMBER_LENGTH})`, {
      field: 'document_number',
    });
  }
  return out;
}

/**
 * Normalise an ICAO issuing-state code: trim, NFKC, uppercase, drop MRZ fillers (`D<<` → `D`), map aliases
 * (`DEU` → `D`), then validate against {@link isIcaoCode}. Throws `ERR_BODY_INVALID` for anything else.
 */
export function normaliseCountry(raw: string, field = 'issuing_country'): string {
  if (raw.length === 3 && raw !== 'DEU' && /^[A-Z]{3}$/.test(raw) && isIcaoCode(raw)) return raw;
  const s = raw.normalize('NFKC').trim().toUpperCase().replace(/<+$/, '');
  const code = ICAO_CODE_ALIASES[s] ?? s;
  if (!(/^[A-Z]{1,3}$/.test(code) && isIcaoCode(code))) {
    throw new LiaisonError('ERR_BODY_INVALID', `${field}: "${raw}" is not an ICAO Doc 9303 country code`, { field });
  }
  return code;
}

/** One token of a name: its normalised spelling and its canonical (variant-folded) key. */
export interface NameToken {
  /** Uppercase A–Z, diacritics stripped, transliterated, compounds joined (`ABDULRAHMAN`). */
  readonly normalised: string;
  /** The canonical key compared by the person index (`ABDALRAHMAN`, `MUHAMAD`). */
  readonly canonical: string;
}

/**
 * Normalise a name into tokens: NFKD and strip combining marks (diacritics), uppercase, transliterate
 * Cyrillic/Greek/special Latin letters (ICAO Doc 9303), drop apostrophes, turn every other punctuation into a
 * space, collapse whitespace, join Arabic compounds, and give each token its canonical key. Empty input → `[]`.
 */
export function normaliseName(raw: string): NameToken[] {
  const upper = raw.normalize('NFKD').replace(/\p{M}+/gu, '').toUpperCase();
  const latin = transliterate(upper)
    .replace(/['’`ʼ‘]/g, '')
    .replace(/[^A-Z]+/g, ' ')
    .trim();
  if (latin === '') return [];
  return joinCompounds(latin.split(' ')).map((normalised) => ({ normalised, canonical: canonicalToken(normalised) }));
}

/** A birth date, possibly partial (year only, or year and month). */
export interface BirthDate {
  readonly year: number;
  readonly month?: number;
  readonly day?: number;
}

/**
 * Parse a birth date `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (the proto's convention for partly known dates), checking
 * that month and day exist. Throws `ERR_BODY_INVALID` otherwise.
 */
export function normaliseBirthDate(raw: string, field = 'birth_date'): BirthDate {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(raw.trim());
  const fail = (): never => {
    throw new LiaisonError('ERR_BODY_INVALID', `${field}: "${raw}" is not YYYY, YYYY-MM or YYYY-MM-DD`, { field });
  };
  if (!m) return fail();
  const year = Number(m[1]);
  if (year < 1800 || year > 2200) return fail();
  if (m[2] === undefined) return { year };
  const month = Number(m[2]);
  if (month < 1 || month > 12) return fail();
  if (m[3] === undefined) return { year, month };
  const day = Number(m[3]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return fail();
  return { year, month, day };
}
