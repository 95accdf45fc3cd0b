/**
 * Normal forms of the values the multiagency centre correlates. Document numbers are normalised as
 * the ¶16 registry does ({@link normaliseDocumentNumber}); the rest here. Every function returns the
 * normal form, or `undefined` when nothing comparable remains (the value is then not correlated).
 *
 * @module
 */
import { normaliseDocumentNumber, normaliseName } from '../registry/index/normalise.ts';

/** A document number as the registry compares it, or undefined when it is not one. */
export function documentKey(raw: string): string | undefined {
  try {
    return normaliseDocumentNumber(raw);
  } catch {
    return undefined;
  }
}

/**
 * A telephone number in E.164-like form: `00` → `+`, every separator dropped. Fewer than 6 digits
 * (extensions, short codes) → undefined.
 */
export function phoneKey(raw: string): string | undefined {
  const s = raw.normalize('NFKC').trim().replace(/^00/, '+');
  const digits = s.replace(/\D/g, '');
  if (digits.length < 6 || digits.length > 17) return undefined;
  return (s.startsWith('+') ? '+' : '') + digits;
}

/** An IMO ship number: seven digits, with or without the `IMO` prefix. */
export function imoKey(raw: string): string | undefined {
  const m = /^\s*(?:IMO)?[\s:-]*(\d{7})\s*$/i.exec(raw.normalize('NFKC'));
  return m ? m[1] : undefined;
}

/** A nine-digit MMSI. */
export function mmsiKey(raw: string): string | undefined {
  const digits = raw.normalize('NFKC').replace(/\s/g, '');
  return /^\d{9}$/.test(digits) ? digits : undefined;
}

/** Free text compared loosely (vessel names, accounts, plates, places): NFKD, no diacritics, upper case, single spaces. */
export function textKey(raw: string): string | undefined {
  const s = raw
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  return s.length >= 2 ? s : undefined;
}

/**
 * A vessel by name and flag (`NAME/FLAG`, e.g. `STELLA MARIS II/XBB`): names repeat across registers,
 * a name under one flag (nearly) identifies a ship (¶18). Undefined without both.
 */
export function vesselFlagKey(name: string, flag: unknown): string | undefined {
  const n = textKey(name);
  const f = countryCode(flag);
  return n && f ? `${n}/${f}` : undefined;
}

/** A person's name: the registry's canonical name tokens (transliteration, spelling variants), sorted. */
export function nameKey(raw: string): string | undefined {
  const tokens = normaliseName(raw).map((t) => t.canonical);
  return tokens.length >= 2 ? [...tokens].sort().join(' ') : undefined;
}

/** An ICAO/ISO 3-letter country code, upper case; undefined otherwise. */
export function countryCode(raw: unknown): string | undefined {
  const s = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
  return /^[A-Z]{1,3}$/.test(s) ? s : undefined;
}
