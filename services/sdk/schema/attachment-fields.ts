import { TIERS, type Tier } from '../tier.ts';
import { PACKAGE } from './catalogue-list.ts';
import type { Catalog, FieldInfo, MessageInfo } from './model.ts';

/** Full name of the attachment value type (common.proto). */
export const ATTACHMENT_TYPE = `${PACKAGE}.Attachment`;

/** The top-level fields of a message that hold attachments, in declaration order. */
export function attachmentFields(info: MessageInfo): readonly FieldInfo[] {
  return info.fields.filter((f) => f.messageType === ATTACHMENT_TYPE);
}

/** The tiers of a type's attachment fields (their sensitivities), lowest first; [] for an unknown type or none. */
export function attachmentTiersOf(catalog: Catalog, type: string): Tier[] {
  const info = catalog.types.get(type);
  if (!info) return [];
  const tiers = new Set(attachmentFields(info).map((f) => f.sensitivity));
  return TIERS.filter((t) => tiers.has(t));
}
