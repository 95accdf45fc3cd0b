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

/** The message that makes a change, so a retraction of it can undo the change. */
export interface ChangeBy {
  /** Its id. */
  id: string;
  /** Its sender. */
  by: string;
}

/** What a retraction did to the document records (see {@link DocumentStore.withdraw}). */
export interface Withdrawal {
  /** Records the message created, now CANCELLED. */
  cancelled: number;
  /** Records it changed, restored to their state before it. */
  restored: number;
  /** Records it changed that later changes stand on: left as they are. */
  superseded: number;
}

/** The document index as the service uses it. */
export interface DocumentStore {
  /** Add or change a record; `change` names the message, remembered when it changes an existing record. */
  upsert(country: string, number: string, record: StoredDocument, change?: ChangeBy): UpsertOutcome;
  get(country: string, number: string): StoredDocument | undefined;
  /**
   * Message `messageId` was retracted by `sender`: every record it created (its reference) and that
   * `sender` owns becomes CANCELLED (stops hitting at once) — a scan over the records, retractions
   * are rare — and every change it made to an existing record is undone: the record is restored to
   * its state before the change when no later change stands on it (a passport wrongly declared
   * recovered hits again). Records of other owners and changes of other senders are left alone.
   */
  withdraw(messageId: string, sender: string): Withdrawal;
  readonly size: number;
}

/** Statuses that make a check hit; recovered and cancelled documents stop hitting at once. */
export function isHitStatus(status: DocumentStatusName): boolean {
  return status === 'LOST' || status === 'STOLEN' || status === 'FRAUDULENT';
}
