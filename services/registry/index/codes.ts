/**
 * Document statuses and types as the index stores them: the numbers are the proto enum numbers of
 * `liaison.v1.DocumentStatus` and `liaison.v1.DocumentType` (proto/liaison/v1/documents.proto), so the service
 * maps between wire and index without a table.
 *
 * @module
 */
import { LiaisonError } from '../../sdk/errors.ts';

/** Status of a document record. `recovered` and `cancelled` records are kept but no longer hit. */
export type DocumentStatus = 'lost' | 'stolen' | 'fraudulent' | 'recovered' | 'cancelled';

/** Kind of travel or identity document. */
export type DocumentType =
  | 'unspecified'
  | 'passport'
  | 'identity_card'
  | 'visa'
  | 'residence_permit'
  | 'refugee_travel_document'
  | 'seafarer_id'
  | 'blank';

/** Status names by proto number (index 0 = unspecified, never stored). */
export const DOCUMENT_STATUSES: readonly (DocumentStatus | undefined)[] = [undefined, 'lost', 'stolen', 'fraudulent', 'recovered', 'cancelled'];

/** Type names by proto number. */
export const DOCUMENT_TYPES: readonly DocumentType[] = [
  'unspecified',
  'passport',
  'identity_card',
  'visa',
  'residence_permit',
  'refugee_travel_document',
  'seafarer_id',
  'blank',
];

/** True for statuses that make a check hit (lost, stolen, fraudulent). */
export function isHitStatus(status: DocumentStatus): boolean {
  return status === 'lost' || status === 'stolen' || status === 'fraudulent';
}

/** Proto number of a status; throws `ERR_BODY_INVALID` for an unknown one. */
export function statusCode(status: DocumentStatus): number {
  const i = DOCUMENT_STATUSES.indexOf(status);
  if (i <= 0) throw new LiaisonError('ERR_BODY_INVALID', `status: unknown document status "${String(status)}"`, { field: 'status' });
  return i;
}

/** Proto number of a type; throws `ERR_BODY_INVALID` for an unknown one. */
export function typeCode(type: DocumentType): number {
  const i = DOCUMENT_TYPES.indexOf(type);
  if (i < 0) throw new LiaisonError('ERR_BODY_INVALID', `document_type: unknown document type "${String(type)}"`, { field: 'document_type' });
  return i;
}
