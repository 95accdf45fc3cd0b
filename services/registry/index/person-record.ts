/**
 * Person alerts as the person index stores them: names reduced to keyed hashes of their tokens, identifiers to
 * keyed hashes, so the index and its snapshot hold no plaintext name or identifier. Birth date and nationalities
 * are kept as they are (they are what the matching compares and are not identifying on their own).
 *
 * @module
 */
import { LiaisonError } from '../../sdk/errors.ts';
import type { KeyedHasher } from './keyed-hash.ts';
import { normaliseBirthDate, normaliseCountry, normaliseDocumentNumber, normaliseName, type BirthDate } from './normalise.ts';

/** Kind of a person identifier (proto `IdentifierKind`, lowercase, without prefix). */
export type IdentifierKind = 'passport' | 'national_id' | 'residence_permit' | 'fingerprint_reference' | 'registration' | 'phone' | 'other';

const IDENTIFIER_KINDS: ReadonlySet<string> = new Set(['passport', 'national_id', 'residence_permit', 'fingerprint_reference', 'registration', 'phone', 'other']);

/** A name as the proto `PersonName` carries it, or a plain full-name string. */
export type PersonNameInput =
  | string
  | {
      readonly givenNames?: string;
      readonly familyName?: string;
      readonly fullName?: string;
      /** Latin transliteration recorded beside a name in another script; matched as one more spelling. */
      readonly transliteration?: string;
    };

/** An identifier of a person (document, registration, phone…). */
export interface PersonIdentifierInput {
  readonly kind: IdentifierKind;
  readonly value: string;
  /** ICAO issuing-state code, when there is one. */
  readonly country?: string;
}

/** A PersonAlert as the index takes it. */
export interface PersonAlertInput {
  /** The alert reference, stable across updates (upsert key). */
  readonly ref: string;
  /** Owner agency id. */
  readonly owner: string;
  /** Stream sequence of the alert message, to fetch its details (at the asker's tier). */
  readonly seq: number;
  readonly name: PersonNameInput;
  readonly aliases?: readonly PersonNameInput[];
  /** `YYYY`, `YYYY-MM` or `YYYY-MM-DD`. */
  readonly birthDate?: string;
  readonly nationalities?: readonly string[];
  readonly identifiers?: readonly PersonIdentifierInput[];
}

/** Where a name token came from, for reasons (`transliteration variant of surname`). */
export type TokenRole = 'surname' | 'given name' | 'name';

/** One token of a stored name: keyed hashes of its normalised spelling (`n`) and canonical key (`c`). */
export interface StoredToken {
  readonly n: number;
  readonly c: number;
  readonly role: TokenRole;
}

/** One spelling of a name of the person. */
export interface StoredName {
  readonly alias: boolean;
  readonly tokens: readonly StoredToken[];
}

/** An identifier reduced to its keyed hash plus what a reason may say (kind and issuing State, not the value). */
export interface StoredIdentifier {
  readonly h: number;
  readonly kind: IdentifierKind;
  readonly country: string;
}

/** A person alert as held by the index (and its snapshot). */
export interface StoredAlert {
  readonly ref: string;
  readonly owner: string;
  readonly seq: number;
  readonly names: readonly StoredName[];
  readonly birth?: BirthDate;
  readonly nationalities: readonly string[];
  readonly identifiers: readonly StoredIdentifier[];
}

/** Keyed hash of an identifier (kind, issuing State, value normalised like a document number). */
export function identifierHash(hasher: KeyedHasher, id: PersonIdentifierInput): StoredIdentifier {
  if (!IDENTIFIER_KINDS.has(id.kind)) {
    throw new LiaisonError('ERR_BODY_INVALID', `identifiers.kind: unknown identifier kind "${String(id.kind)}"`, { field: 'identifiers.kind' });
  }
  const country = id.country ? normaliseCountry(id.country, 'identifiers.issuing_country') : '';
  const value = normaliseDocumentNumber(id.value);
  return { h: hasher.number52(`person-id|${id.kind}|${country}|${value}`), kind: id.kind, country };
}

/** Keyed hash of a name token's normalised spelling. */
export function spellingHash(hasher: KeyedHasher, normalised: string): number {
  return hasher.number52(`person-name-n|${normalised}`);
}

/** Keyed hash of a name token's canonical key. */
export function canonicalHash(hasher: KeyedHasher, canonical: string): number {
  return hasher.number52(`person-name-c|${canonical}`);
}

function tokens(hasher: KeyedHasher, text: string | undefined, role: TokenRole): StoredToken[] {
  if (!text) return [];
  return normaliseName(text).map((t) => ({ n: spellingHash(hasher, t.normalised), c: canonicalHash(hasher, t.canonical), role }));
}

/** Every spelling of one name input (the name, and its recorded transliteration if any), as stored names. */
export function storedNames(hasher: KeyedHasher, input: PersonNameInput, alias: boolean): StoredName[] {
  const out: StoredName[] = [];
  if (typeof input === 'string') {
    const t = tokens(hasher, input, 'name');
    if (t.length > 0) out.push({ alias, tokens: t });
    return out;
  }
  const split = [...tokens(hasher, input.givenNames, 'given name'), ...tokens(hasher, input.familyName, 'surname')];
  const main = split.length > 0 ? split : tokens(hasher, input.fullName, 'name');
  if (main.length > 0) out.push({ alias, tokens: main });
  const tr = tokens(hasher, input.transliteration, 'name');
  if (tr.length > 0) out.push({ alias, tokens: tr });
  return out;
}

/** Reduce a PersonAlert to what the index stores. Throws `ERR_BODY_INVALID` for bad input or a nameless alert. */
export function storeAlert(hasher: KeyedHasher, a: PersonAlertInput): StoredAlert {
  if (!a.ref) throw new LiaisonError('ERR_BODY_INVALID', 'alert_reference: empty', { field: 'alert_reference' });
  if (!Number.isInteger(a.seq) || a.seq < 0) throw new LiaisonError('ERR_BODY_INVALID', `seq: ${a.seq} is not a sequence`, { field: 'seq' });
  const names = [...storedNames(hasher, a.name, false), ...(a.aliases ?? []).flatMap((n) => storedNames(hasher, n, true))];
  if (names.length === 0) throw new LiaisonError('ERR_BODY_INVALID', 'subject.name: no name to match on', { field: 'subject.name' });
  return {
    ref: a.ref,
    owner: a.owner,
    seq: a.seq,
    names,
    ...(a.birthDate ? { birth: normaliseBirthDate(a.birthDate, 'subject.birth_date') } : {}),
    nationalities: (a.nationalities ?? []).map((c) => normaliseCountry(c, 'subject.nationalities')),
    identifiers: (a.identifiers ?? []).map((i) => identifierHash(hasher, i)),
  };
}
