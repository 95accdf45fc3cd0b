/**
 * The sender's tag on a `Nats-Msg-Id`. JetStream de-duplicates a stream by the `Nats-Msg-Id` header,
 * which the broker never checks against the publisher: an agency that learns another's message id
 * before it is sent could store a message of its own first under the victim's `<sender>:<id>:<tier>`,
 * and JetStream would then drop the genuine publish as a duplicate. The tag is an HMAC of
 * (sender, id, tier) under a key derived from the sender's private signing key: the same for every
 * replica and restart of the agency (a retried publish still de-duplicates), computable by no one else.
 *
 * @module
 */
import { createHash, type Hash, type KeyObject } from 'node:crypto';
import { LiaisonError } from '../errors.ts';

/** Domain separation of the derived key: it is used for nothing but Nats-Msg-Id tags. */
const LABEL = 'liaison/v1 nats-msg-id tag key\u0000';
/** Bytes of HMAC-SHA256 kept in a tag (128 bits), base64url: 22 characters. */
const TAG_BYTES = 16;
/** A tag as it travels: base64url of {@link TAG_BYTES} bytes. */
export const MSG_ID_TAG = /^[A-Za-z0-9_-]{22}$/;

const derived = new WeakMap<KeyObject, Buffer>();

/** The raw 32-byte Ed25519 private key (the JWK `d`). */
function rawPrivateKey(privateKey: KeyObject): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  if (privateKey.asymmetricKeyType !== 'ed25519' || typeof jwk.d !== 'string') {
    throw new LiaisonError('ERR_KEY_FILE_INVALID', 'a Nats-Msg-Id tag key is derived from an Ed25519 private signing key');
  }
  return Buffer.from(jwk.d, 'base64url');
}

/**
 * The tag key of an agency: SHA-256 over a fixed label and its raw private signing key. Derived once
 * per key object (cached weakly). Throws ERR_KEY_FILE_INVALID for a key that is not an Ed25519 private key.
 */
export function msgIdTagKey(privateKey: KeyObject): Buffer {
  const hit = derived.get(privateKey);
  if (hit) return hit;
  const k = createHash('sha256').update(LABEL).update(rawPrivateKey(privateKey)).digest();
  derived.set(privateKey, k);
  return k;
}

/** SHA-256's block size, the HMAC pad length (RFC 2104). */
const BLOCK = 64;
/** HMAC-SHA256 of a key with its inner and outer pads already hashed: one per key. */
const padded = new WeakMap<Uint8Array, { inner: Hash; outer: Hash }>();

/**
 * HMAC-SHA256 (RFC 2104) by copying the hash states of the key's padded blocks: the same bytes as
 * `createHmac`, without its per-call setup, which costs several times a SHA-256 (about a third of an
 * Ed25519 signature under load) and runs once per copy sent.
 */
function hmacSha256(k: Uint8Array, data: string): Buffer {
  let pads = padded.get(k);
  if (!pads) {
    const key = k.byteLength > BLOCK ? createHash('sha256').update(k).digest() : Buffer.from(k);
    const ipad = Buffer.alloc(BLOCK, 0x36);
    const opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.byteLength; i++) {
      ipad[i] = ipad[i]! ^ key[i]!;
      opad[i] = opad[i]! ^ key[i]!;
    }
    pads = { inner: createHash('sha256').update(ipad), outer: createHash('sha256').update(opad) };
    padded.set(k, pads);
  }
  return pads.outer.copy().update(pads.inner.copy().update(data).digest()).digest();
}

/** The tag of one copy: base64url(HMAC-SHA256(k, [sender, id, tier])) truncated to 16 bytes. */
export function msgIdTag(k: Uint8Array, sender: string, id: string, tier: string): string {
  // JSON keeps the three fields apart whatever characters a caller-chosen id holds.
  return hmacSha256(k, JSON.stringify([sender, id, tier])).subarray(0, TAG_BYTES).toString('base64url');
}
