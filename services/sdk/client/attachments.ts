import { createHash } from 'node:crypto';
import { Objm, setSha256Backend } from '@nats-io/obj';
import { errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { attachmentBucket } from '../policy/attachments.ts';
import type { Policy } from '../policy/index.ts';
import { attachmentTiersOf } from '../schema/attachment-fields.ts';
import type { Catalog } from '../schema/index.ts';
import { ObjectReader } from '../state/object-reader.ts';
import type { Tier } from '../tier.ts';
import { agencyJetStream } from './agency-js.ts';

/** Default bound of one attachment (8 MiB): larger ones are refused before they are stored or read. */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 8 << 20;

/** Chunk size of stored attachments (well under the exchange's 1 MiB max_payload). */
const CHUNK_BYTES = 256 << 10;

/** An attachment reference as the signed message carries it (protobuf JSON of `liaison.v1.Attachment`). */
export interface AttachmentRef {
  bucket: string;
  object: string;
  mediaType: string;
  /** Exact size in bytes (protobuf JSON gives a uint64 as a string). */
  size: number | string;
  /** Lowercase hex SHA-256. */
  sha256: string;
  caption?: string;
}

/** What an attachment store needs of a connected agency (a `LiaisonClient` has all of it). */
export interface AttachmentHost {
  readonly id: string;
  readonly nc: NatsConnection;
  readonly catalog: Catalog;
  readonly policy: Policy;
}

/** Options of {@link putAttachment} and {@link fetchAttachment}. */
export interface AttachmentOptions {
  /** Largest attachment accepted (default {@link DEFAULT_MAX_ATTACHMENT_BYTES}). */
  maxBytes?: number;
}

function bound(o: AttachmentOptions): number {
  const max = o.maxBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) throw new LiaisonError('ERR_USAGE', `maxBytes must be a positive integer (got ${String(o.maxBytes)})`);
  return max;
}

function tooLarge(what: string, size: number, max: number): LiaisonError {
  return new LiaisonError('ERR_ATTACHMENT_TOO_LARGE', `${what} is ${size} bytes, above the ${max}-byte attachment bound`, { size, maxBytes: max });
}

/** The tier of `type`'s attachment field (the store it goes to); `tier` chooses when the type has several. */
function attachmentTier(catalog: Catalog, type: string, tier?: Tier): Tier {
  const tiers = attachmentTiersOf(catalog, catalog.get(type).name);
  if (tiers.length === 0) throw new LiaisonError('ERR_USAGE', `${type} has no attachment field`, { type });
  if (tier === undefined && tiers.length === 1) return tiers[0]!;
  if (tier !== undefined && tiers.includes(tier)) return tier;
  throw new LiaisonError('ERR_USAGE', `${type} has attachment fields at ${tiers.join(', ')}: name the tier of the field this attachment goes in`, { type, tiers });
}

function chunksOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (off >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.subarray(off, off + CHUNK_BYTES));
      off += CHUNK_BYTES;
    },
  });
}

/**
 * Store an attachment for a message of `type` in the sender's own attachment store (the one of the
 * type's attachment field tier, see policy/attachments.ts) and return the reference to put in the body:
 * its SHA-256 and size are then signed with the message. Refuses more than `maxBytes` before storing.
 */
export async function putAttachment(
  host: AttachmentHost,
  a: { type: string; bytes: Uint8Array; mediaType: string; caption?: string; tier?: Tier },
  o: AttachmentOptions = {},
): Promise<AttachmentRef> {
  const max = bound(o);
  if (a.bytes.byteLength > max) throw tooLarge('the attachment', a.bytes.byteLength, max);
  const type = host.catalog.get(a.type).name;
  const bucket = attachmentBucket(host.id, type, attachmentTier(host.catalog, type, a.tier));
  const object = uuidv7(Date.now());
  setSha256Backend('native');
  try {
    const os = await new Objm(agencyJetStream(host.nc)).open(bucket);
    await os.put({ name: object, description: a.mediaType, options: { max_chunk_size: CHUNK_BYTES } }, chunksOf(a.bytes));
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot store the attachment in ${bucket} (may ${host.id} send ${type}?)`);
  }
  const sha256 = createHash('sha256').update(a.bytes).digest('hex');
  return { bucket, object, mediaType: a.mediaType, size: a.bytes.byteLength, sha256, ...(a.caption ? { caption: a.caption } : {}) };
}

function declaredSize(ref: AttachmentRef): number {
  const n = typeof ref.size === 'string' ? Number(ref.size) : ref.size;
  if (!Number.isSafeInteger(n) || n < 0) throw new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} declares no valid size (${String(ref.size)})`);
  return n;
}

function readFailure(err: unknown, ref: AttachmentRef, sender: string): LiaisonError {
  if (err instanceof LiaisonError && err.code === 'ERR_DECODE') {
    return new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} of ${sender} refused: ${err.message}`, { bucket: ref.bucket, object: ref.object }, { cause: err });
  }
  const cause = err instanceof LiaisonError && err.cause !== undefined ? err.cause : err;
  if (cause instanceof natsErrors.PermissionViolationError || /permission/i.test(cause instanceof Error ? cause.message : String(cause))) {
    return new LiaisonError('ERR_PERMISSION_DENIED', `the broker refused reading ${ref.bucket}: the policy does not let this agency see ${sender}'s attachments there`, { bucket: ref.bucket }, { cause });
  }
  return asLiaisonError(err, 'ERR_EXCHANGE', `cannot read attachment ${ref.object} from ${ref.bucket}`);
}

/**
 * Fetch an attachment a verified message of `type` from `sender` names, and check it against what the
 * message signed: the bucket must be the sender's own store for that type, the declared size within
 * `maxBytes` (checked before anything is read), the stored size equal to the signed one, and the SHA-256
 * of the bytes equal to the signed digest. Typed refusals: ERR_ATTACHMENT_MISSING, ERR_ATTACHMENT_TOO_LARGE,
 * ERR_ATTACHMENT_DIGEST (tampered), ERR_PERMISSION_DENIED (the policy gives this agency no read right).
 */
export async function fetchAttachment(host: AttachmentHost, m: { sender: string; type: string; ref: AttachmentRef }, o: AttachmentOptions = {}): Promise<Uint8Array> {
  const { ref, sender } = m;
  const max = bound(o);
  const type = host.catalog.get(m.type).name;
  const own = attachmentTiersOf(host.catalog, type).map((t) => attachmentBucket(sender, type, t));
  if (!own.includes(ref.bucket)) throw new LiaisonError('ERR_ATTACHMENT_MISSING', `attachment bucket ${JSON.stringify(ref.bucket)} is not ${sender}'s attachment store for ${type} (${own.join(', ') || 'none'})`, { bucket: ref.bucket });
  const size = declaredSize(ref);
  if (size > max) throw tooLarge(`attachment ${ref.object}`, size, max);
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} carries no SHA-256 (${JSON.stringify(ref.sha256.slice(0, 80))})`);
  try {
    const reader = await ObjectReader.open(host.nc, ref.bucket);
    const read = await reader.read(ref.object);
    if (!read) throw new LiaisonError('ERR_ATTACHMENT_MISSING', `attachment ${ref.object} is not in ${ref.bucket} (deleted, or never stored)`, { bucket: ref.bucket, object: ref.object });
    if (read.meta.size !== size) throw new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} is stored as ${read.meta.size} bytes; the message signed ${size}`, { bucket: ref.bucket, object: ref.object });
    const out = new Uint8Array(size);
    let at = 0;
    const hash = createHash('sha256');
    for await (const chunk of read.chunks) {
      if (at + chunk.byteLength > size) throw new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} holds more than the ${size} bytes signed`);
      out.set(chunk, at);
      at += chunk.byteLength;
      hash.update(chunk);
    }
    await read.verified();
    if (hash.digest('hex') !== ref.sha256) throw new LiaisonError('ERR_ATTACHMENT_DIGEST', `attachment ${ref.object} of ${sender} differs from the SHA-256 signed in the message: refused`, { bucket: ref.bucket, object: ref.object });
    return out;
  } catch (err) {
    throw readFailure(err, ref, sender);
  }
}
