/**
 * What the registry service needs from a document index. The compact keyed-hash index in
 * `./index/` implements it; the service never sees plaintext document numbers stored.
 */
export type DocumentStatusName = 'LOST' | 'STOLEN' | 'FRAUDULENT' | 'RECOVERED' | 'CANCELLED';

/** One document record as the registry keeps it (no plaintext number). */
export interface StoredDocument {
  status: DocumentStatusName;
  /** Document type enum name without prefix, e.g. PASSPORT. */
  type: string;
  /** Agency id of the record owner (an agency of the issuing country). */
  owner: string;
  /** Registry reference: the id of the report that created or last changed the record. */
  reference: string;
}

/** Outcome of an upsert (duplicate reports are idempotent). */
export type UpsertOutcome = 'added' | 'updated' | 'unchanged';

/** The document index as the service uses it. */
export interface DocumentStore {
  upsert(country: string, number: string, record: StoredDocument): UpsertOutcome;
  get(country: string, number: string): StoredDocument | undefined;
  /**
   * The report `reference` was retracted by its sender: every record it created becomes CANCELLED
   * (stops hitting at once). A scan over the records; retractions are rare. Returns how many changed.
   */
  withdraw(reference: string): number;
  readonly size: number;
}

/** Statuses that make a check hit; recovered and cancelled documents stop hitting at once. */
export function isHitStatus(status: DocumentStatusName): boolean {
  return status === 'LOST' || status === 'STOLEN' || status === 'FRAUDULENT';
}
