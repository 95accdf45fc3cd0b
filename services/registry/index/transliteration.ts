/**
 * Latin transliteration of Cyrillic and Greek letters for names, after ICAO Doc 9303 Part 3, §6 (Tables B and C,
 * "Transliteration of multinational characters"), for the common letters. Input is expected uppercased and
 * NFKD-decomposed with combining marks removed (so Й → И, Ё → Е, Ї → І, Ά → Α before this table applies).
 *
 * Letters outside these tables and outside A–Z are dropped by the name normaliser; Arabic, Persian and other
 * abjad scripts have no letter-level ICAO mapping that survives vowel ambiguity and are therefore handled by the
 * spelling variants of {@link ./name-variants.ts} on their Latin forms instead.
 *
 * @module
 */

/** Cyrillic (Russian, Ukrainian, Belarusian, Serbian, Macedonian letters) → Latin, ICAO Doc 9303 Table B. */
export const CYRILLIC_TO_LATIN: Readonly<Record<string, string>> = {
  А: 'A', Б: 'B', В: 'V', Г: 'G', Ґ: 'G', Д: 'D', Ђ: 'D', Ѓ: 'G', Е: 'E', Є: 'IE', Ж: 'ZH', З: 'Z', Ѕ: 'DZ',
  И: 'I', І: 'I', Ј: 'J', К: 'K', Ќ: 'K', Л: 'L', Љ: 'LJ', М: 'M', Н: 'N', Њ: 'NJ', О: 'O', П: 'P', Р: 'R',
  С: 'S', Т: 'T', Ћ: 'C', У: 'U', Ў: 'U', Ф: 'F', Х: 'KH', Ц: 'TS', Ч: 'CH', Џ: 'DZ', Ш: 'SH', Щ: 'SHCH',
  Ъ: 'IE', Ы: 'Y', Ь: '', Э: 'E', Ю: 'IU', Я: 'IA',
};

/** Greek → Latin, ICAO Doc 9303 Table C (single letters; the digraph ΟΥ → OU is applied first). */
export const GREEK_TO_LATIN: Readonly<Record<string, string>> = {
  Α: 'A', Β: 'V', Γ: 'G', Δ: 'D', Ε: 'E', Ζ: 'Z', Η: 'I', Θ: 'TH', Ι: 'I', Κ: 'K', Λ: 'L', Μ: 'M', Ν: 'N',
  Ξ: 'X', Ο: 'O', Π: 'P', Ρ: 'R', Σ: 'S', Τ: 'T', Υ: 'Y', Φ: 'F', Χ: 'CH', Ψ: 'PS', Ω: 'O',
};

/** Latin letters that NFKD does not decompose, mapped as ICAO Doc 9303 Table A does. */
export const LATIN_SPECIALS: Readonly<Record<string, string>> = {
  ß: 'SS', Æ: 'AE', Ø: 'OE', Œ: 'OE', Þ: 'TH', Ð: 'D', Đ: 'D', Ł: 'L', Ħ: 'H', Ŧ: 'T', Ŋ: 'N', ı: 'I', ĸ: 'K',
};

const TABLE: ReadonlyMap<string, string> = new Map([
  ...Object.entries(CYRILLIC_TO_LATIN),
  ...Object.entries(GREEK_TO_LATIN),
  ...Object.entries(LATIN_SPECIALS),
]);

/** Replace every Cyrillic, Greek and special Latin letter of an uppercased, mark-free string by its Latin form. */
export function transliterate(upper: string): string {
  if (/^[\x00-\x7f]*$/.test(upper)) return upper;
  let out = '';
  const s = upper.replaceAll('ΟΥ', 'OU');
  for (const ch of s) out += TABLE.get(ch) ?? ch;
  return out;
}
