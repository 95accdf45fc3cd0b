/**
 * Spelling variants folded to one canonical key per name token.
 *
 * Two folds, both applied after normalisation (uppercase A–Z, diacritics stripped, Cyrillic/Greek transliterated):
 * 1. doubled letters collapse (`MOHAMMED` → `MOHAMED`, `YOUSSEF` → `YOUSEF`, `HASSAN` → `HASAN`): Arabic shadda,
 *    Italian/German gemination and clerks' spelling all double or single a consonant inconsistently;
 * 2. a small table of romanisation variants of the given names that dominate the records this registry sees
 *    (Arabic-origin names across French, English, Turkish and East African romanisations; Russian names between
 *    ICAO Doc 9303 and the older BGN/PCGN "-EY"/"X" spellings). Each group below is one name written several
 *    ways; none merges two different names. The list is deliberately short: a generic phonetic code (Soundex,
 *    Metaphone) would also merge different people's names and flood officers with possible hits.
 *
 * Structural folds for Arabic compounds: `ABD`, `ABDUL`, `ABDEL`, `ABDOL`, `ABDAL`, `ABD AL`, `ABD EL`
 * (+ the next token, with or without a space) become `ABDAL…` (`ABDUL RAHMAN`, `ABDEL-RAHMAN` and
 * `ABDULRAHMAN` meet); a standalone article `AL`/`EL` joins the next token (`AL HASSAN` = `ALHASSAN`).
 *
 * @module
 */

/** Variant groups: the first spelling is the canonical one. Spellings are given before doubled-letter collapse. */
export const NAME_VARIANT_GROUPS: readonly (readonly string[])[] = [
  ['MUHAMMAD', 'MOHAMMED', 'MOHAMED', 'MOHAMMAD', 'MOHAMAD', 'MUHAMMED', 'MUHAMED', 'MUHAMAD', 'MOUHAMED', 'MOUHAMMAD', 'MAHOMED', 'MOHD', 'MHD'],
  ['YUSUF', 'YOUSSEF', 'YOUSEF', 'YUSSEF', 'YUSEF', 'YOUSIF', 'YOUSSOUF', 'YOUCEF', 'JUSUF'],
  ['AHMAD', 'AHMED', 'AHMET'],
  ['HUSSEIN', 'HUSSAIN', 'HUSAIN', 'HUSEIN', 'HOSSEIN', 'HOUSSEIN', 'HUSEYIN'],
  ['HASAN', 'HASSAN', 'HASSANE'],
  ['MUSTAFA', 'MUSTAPHA', 'MOSTAFA', 'MOUSTAFA', 'MOSTAPHA'],
  ['IBRAHIM', 'EBRAHIM', 'IBRAHEEM', 'IBRAHIMA'],
  ['OMAR', 'UMAR', 'OMER'],
  ['USMAN', 'OTHMAN', 'OSMAN', 'UTHMAN', 'OUSMANE', 'OTHMANE'],
  ['KHALID', 'KHALED'],
  ['SULEIMAN', 'SULAIMAN', 'SULEYMAN', 'SOULEYMANE', 'SLIMANE'],
  ['RAHMAN', 'REHMAN', 'RAHMAAN'],
  ['ALI', 'ALY'],
  ['ABU', 'ABOU'],
  ['ALEKSANDR', 'ALEXANDR', 'ALEXANDER', 'ALEKSANDER'],
  ['ALEKSEI', 'ALEXEI', 'ALEKSEY', 'ALEXEY'],
  ['SERGEI', 'SERGEY'],
  ['ANDREI', 'ANDREY'],
  ['NIKOLAI', 'NIKOLAY'],
  ['DMITRII', 'DMITRIY', 'DMITRY'],
];

/** Collapse runs of the same letter to one (`MOHAMMED` → `MOHAMED`). */
export function collapseDoubles(token: string): string {
  return token.replace(/([A-Z])\1+/g, '$1');
}

const CANONICAL: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const group of NAME_VARIANT_GROUPS) {
    const canonical = collapseDoubles(group[0]!);
    for (const spelling of group) m.set(collapseDoubles(spelling), canonical);
  }
  return m;
})();

const ABD_PREFIX = /^ABD(?:UL|EL|OL|AL)?$/;
const ABD_GLUED = /^ABD(?:UL|EL|OL|AL)(?=[A-Z]{3,})/;
const ARTICLES = new Set(['AL', 'EL']);

/** The canonical key of one normalised token (doubled letters collapsed, then the variant table). */
export function canonicalToken(token: string): string {
  const glued = ABD_GLUED.exec(token);
  if (glued) return 'ABDAL' + canonicalToken(token.slice(glued[0].length));
  const c = collapseDoubles(token);
  return CANONICAL.get(c) ?? c;
}

/**
 * Join compound tokens of a normalised name before canonicalisation: `ABD AL X`, `ABDUL X`, `AL X` become one
 * token (`ABDALX`, `ABDALX`, `ALX`). Returns the (possibly fewer) tokens, each still in normalised spelling.
 */
export function joinCompounds(tokens: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (next !== undefined && ABD_PREFIX.test(t)) {
      if (t === 'ABD' && ARTICLES.has(next) && tokens[i + 2] !== undefined) {
        out.push('ABDAL' + tokens[i + 2]!);
        i += 2;
      } else {
        out.push('ABDAL' + next);
        i += 1;
      }
    } else if (next !== undefined && ARTICLES.has(t)) {
      out.push('AL' + next);
      i += 1;
    } else {
      out.push(t);
    }
  }
  return out;
}
