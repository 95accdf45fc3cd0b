import { agencyJsApi, bucketName } from '../subjects.ts';
import { tierRank, type Tier } from '../tier.ts';
import { canSend, receiveCeiling } from './decide.ts';
import type { BucketSpec } from './compile.ts';
import type { CopyScope, Policy, TypeCatalog } from './model.ts';

/**
 * Attachments (images of a forgery, specimen pages) travel beside a message: their bytes in an object
 * store of the SENDER, their SHA-256 in the signed message. One store per (sender, type, tier of the
 * attachment field): `<sender>_att-<type>-<tier>`. The sender may write it like its other buckets; every
 * agency whose policy ceiling for the type (in any scope) reaches that tier — exactly those who see the
 * field in their copy — may read it, by direct get only; nobody else has any right on it. The broker's
 * bound is the bucket: a reader may read every attachment of that sender, type and tier, including those
 * of copies directed to others it could have received at that tier had they been addressed to it.
 */

/** Prefix of compiled attachment bucket names (reserved: a policy's `state` cannot use it). */
export const ATTACHMENT_BUCKET_PREFIX = 'att-';

const SCOPES: readonly CopyScope[] = ['direct', 'broadcast', 'observe'];

/** The name (policy-style) of the attachment store of `type` at `tier`: `att-forgeryalert-operational`. */
export function attachmentStoreName(type: string, tier: Tier): string {
  return `${ATTACHMENT_BUCKET_PREFIX}${type.toLowerCase()}-${tier}`;
}

/** The JetStream object store bucket of `sender`'s attachments of `type` at `tier`. */
export function attachmentBucket(sender: string, type: string, tier: Tier): string {
  return bucketName(sender, attachmentStoreName(type, tier));
}

function attachmentTypes(policy: Policy, catalog: TypeCatalog, agencyId: string): { type: string; tiers: readonly Tier[] }[] {
  if (!catalog.attachmentTiers) return [];
  return catalog
    .types()
    .map((type) => ({ type, tiers: catalog.attachmentTiers!(type) }))
    .filter((t) => t.tiers.length > 0 && canSend(policy, agencyId, t.type).allowed);
}

/** The attachment stores an agency keeps as a sender: one per type it may send that has attachments, and tier. */
export function attachmentBuckets(policy: Policy, agencyId: string, catalog: TypeCatalog): BucketSpec[] {
  if (!policy.agencies[agencyId]) return [];
  return attachmentTypes(policy, catalog, agencyId).flatMap(({ type, tiers }) =>
    tiers.map((tier) => ({ agency: agencyId, kind: 'objects' as const, name: attachmentStoreName(type, tier), bucket: attachmentBucket(agencyId, type, tier) })),
  );
}

/** True when the agency's ceiling for `type`, in some scope, reaches `tier` (it sees the attachment field). */
export function seesAttachment(policy: Policy, agencyId: string, type: string, tier: Tier): boolean {
  return SCOPES.some((scope) => {
    const ceiling = receiveCeiling(policy, agencyId, type, scope);
    return ceiling !== undefined && tierRank(ceiling.tier) >= tierRank(tier);
  });
}

/** Agencies (sorted) that may read `sender`'s attachments of `type` at `tier`: those who see the field, not the sender. */
export function attachmentReaders(policy: Policy, sender: string, type: string, tier: Tier): string[] {
  if (!canSend(policy, sender, type).allowed) return [];
  return Object.keys(policy.agencies)
    .filter((id) => id !== sender && seesAttachment(policy, id, type, tier))
    .sort();
}

/** Direct-get rights on one attachment store (read one stored message at a time; no write, purge or consumer). */
export function attachmentReadPermissions(bucket: string): string[] {
  return [agencyJsApi(`DIRECT.GET.OBJ_${bucket}`), agencyJsApi(`DIRECT.GET.OBJ_${bucket}.>`)];
}

/** An agency's read rights on the attachment stores of every other agency whose attachments it may see. */
export function attachmentReadRights(policy: Policy, agencyId: string, catalog: TypeCatalog): string[] {
  if (!policy.agencies[agencyId]) return [];
  const out: string[] = [];
  for (const sender of Object.keys(policy.agencies)) {
    if (sender === agencyId) continue;
    for (const { type, tiers } of attachmentTypes(policy, catalog, sender)) {
      for (const tier of tiers) if (seesAttachment(policy, agencyId, type, tier)) out.push(...attachmentReadPermissions(attachmentBucket(sender, type, tier)));
    }
  }
  return out;
}
