/**
 * The registry's in-memory index core (¶16): normalisation, keyed hashing, the document index, the person-alert
 * index and their snapshots. Pure: no NATS, no I/O except the snapshot file helpers.
 *
 * @module
 */
export { AgencyTable, MAX_AGENCIES } from './agency-table.ts';
export { DOCUMENT_STATUSES, DOCUMENT_TYPES, isHitStatus, statusCode, typeCode } from './codes.ts';
export type { DocumentStatus, DocumentType } from './codes.ts';
export { DocumentIndex, MAX_LOAD } from './document-index.ts';
export type {
  DocumentEntry,
  DocumentIndexOptions,
  DocumentLookup,
  DocumentRecordInput,
  DocumentState,
  DocumentTables,
  SetStatusOutcome,
  UpsertOutcome,
} from './document-index.ts';
export { ICAO_CODE_ALIASES, ICAO_FIXED_CODES, ICAO_SPECIAL_CODES, isIcaoCode } from './icao-codes.ts';
export { REGISTRY_KEY_BYTES, createKeyedHasher, hashToBigInt } from './keyed-hash.ts';
export type { DocumentHash, KeyedHasher } from './keyed-hash.ts';
export { NAME_VARIANT_GROUPS, canonicalToken, collapseDoubles, joinCompounds } from './name-variants.ts';
export {
  DOCUMENT_NUMBER_HOMOGLYPHS,
  MAX_DOCUMENT_NUMBER_LENGTH,
  normaliseBirthDate,
  normaliseCountry,
  normaliseDocumentNumber,
  normaliseName,
} from './normalise.ts';
export type { BirthDate, NameToken } from './normalise.ts';
export { PersonIndex } from './person-index.ts';
export type { PersonCandidate, PersonIndexOptions, PersonQuery } from './person-index.ts';
export { HIT_SCORE, MIN_SCORE, scoreAlert } from './person-match.ts';
export type { PreparedQuery, Scored } from './person-match.ts';
export { storeAlert } from './person-record.ts';
export type {
  IdentifierKind,
  PersonAlertInput,
  PersonIdentifierInput,
  PersonNameInput,
  StoredAlert,
  StoredIdentifier,
  StoredName,
  StoredToken,
  TokenRole,
} from './person-record.ts';
export {
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_VERSION,
  decodeDocumentSnapshot,
  copyDocumentTables,
  decodePersonSnapshot,
  documentSnapshotParts,
  encodeDocumentSnapshot,
  encodePersonSnapshot,
  readDocumentSnapshot,
  readDocumentSnapshotFile,
  readPersonSnapshotFile,
  writeDocumentSnapshotFile,
  writePersonSnapshotFile,
} from './snapshot.ts';
export type { LoadedDocumentSnapshot, LoadedPersonSnapshot, SequentialSource, SnapshotInfo } from './snapshot.ts';
export { CYRILLIC_TO_LATIN, GREEK_TO_LATIN, LATIN_SPECIALS, transliterate } from './transliteration.ts';
