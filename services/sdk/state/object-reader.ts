import { createHash, type Hash } from 'node:crypto';
import type { StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LiaisonError } from '../errors.ts';
import { StoredReader } from './stored.ts';

/** The metadata nats.js object stores keep per object (`$O.<bucket>.M.<name>`), as far as Liaison reads it. */
export interface ObjectMeta {
  name: string;
  description?: string;
  /** Id of the object's chunks: they are stored on `$O.<bucket>.C.<nuid>`. */
  nuid: string;
  size: number;
  chunks: number;
  /** `SHA-256=<base64url>` of the whole content. */
  digest: string;
  mtime: string;
  deleted?: boolean;
  /** Stream sequence of this metadata entry. */
  revision: number;
}

/** One object being read: its chunks in order, and the store's integrity check once they are read. */
export interface ObjectRead {
  meta: ObjectMeta;
  /** The content, one stored chunk at a time (at most two held: the one handed out and the next, prefetched). */
  chunks: AsyncIterable<Uint8Array>;
  /** Reads what `chunks` has not, then checks size, chunk count and SHA-256; throws `ERR_DECODE` when they disagree. */
  verified(): Promise<void>;
}

const DIGEST_PREFIX = 'SHA-256=';

/** nats.js's object name encoding: base64url of the name's Latin-1 bytes, padded (`Base64UrlPaddedCodec`). */
export function objectNameToken(name: string): string {
  if (name.length === 0 || /[^\x01-\xff]/.test(name)) throw new LiaisonError('ERR_USAGE', `object name ${JSON.stringify(name.slice(0, 80))} is empty or not Latin-1 (the object store cannot hold it)`);
  return Buffer.from(name, 'latin1').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function parseMeta(m: StoredMsg, bucket: string): ObjectMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    raw = undefined;
  }
  const o = raw as Partial<ObjectMeta> | undefined;
  const ok =
    o !== null && typeof o === 'object' && typeof o.name === 'string' && typeof o.nuid === 'string' && /^[A-Za-z0-9]+$/.test(o.nuid) && Number.isSafeInteger(o.size) && Number.isSafeInteger(o.chunks) && (o.size ?? -1) >= 0 && (o.chunks ?? -1) >= 0;
  if (!ok) throw new LiaisonError('ERR_DECODE', `object store ${bucket}: metadata at sequence ${m.seq} (${m.subject}) is not an object description`);
  return { name: o.name!, description: o.description, nuid: o.nuid!, size: o.size!, chunks: o.chunks!, digest: String(o.digest ?? ''), mtime: String(o.mtime ?? ''), deleted: o.deleted === true, revision: m.seq };
}

/** The 32 digest bytes of `SHA-256=<base64 or base64url>`, or undefined when it is not one. */
function digestBytes(digest: string): Buffer | undefined {
  if (!digest.startsWith(DIGEST_PREFIX)) return undefined;
  const b = Buffer.from(digest.slice(DIGEST_PREFIX.length), 'base64');
  return b.length === 32 ? b : undefined;
}

/**
 * Reads one object store the agency owns without any JetStream consumer: an object's metadata by
 * direct get of its last `$O.<bucket>.M.<name>` entry, its chunks by direct gets walking
 * `$O.<bucket>.C.<nuid>` sequence by sequence (SHA-256, size and chunk count checked against the
 * metadata), and the list of objects by a direct-get scan of `$O.<bucket>.M.>`.
 */
export class ObjectReader {
  readonly bucket: string;
  readonly #stored: StoredReader;

  private constructor(bucket: string, stored: StoredReader) {
    this.bucket = bucket;
    this.#stored = stored;
  }

  /** Bind the object store `<bucket>` (stream `OBJ_<bucket>`). */
  static async open(nc: NatsConnection, bucket: string): Promise<ObjectReader> {
    return new ObjectReader(bucket, await StoredReader.open(nc, `OBJ_${bucket}`));
  }

  /** The metadata of `name`; undefined when there is no such object or it was deleted. */
  async info(name: string): Promise<ObjectMeta | undefined> {
    const m = await this.#stored.last(`$O.${this.bucket}.M.${objectNameToken(name)}`);
    if (!m) return undefined;
    const meta = parseMeta(m, this.bucket);
    return meta.deleted ? undefined : meta;
  }

  /** Every object stored (deleted ones left out), in the order their metadata was last written. */
  async list(): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    for await (const m of this.#stored.scan(`$O.${this.bucket}.M.>`)) {
      const meta = parseMeta(m, this.bucket);
      if (!meta.deleted) out.push(meta);
    }
    return out;
  }

  /** Open `name` for reading; undefined when there is none. */
  async read(name: string): Promise<ObjectRead | undefined> {
    const meta = await this.info(name);
    if (!meta) return undefined;
    const expected = digestBytes(meta.digest);
    if (!expected) throw new LiaisonError('ERR_DECODE', `object store ${this.bucket}: ${name} has no SHA-256 digest (${JSON.stringify(meta.digest.slice(0, 80))})`);
    return new ChunkWalk(this.#stored, this.bucket, meta, expected).read();
  }
}

/** The chunks of one object, read once, hashed as they pass. */
class ChunkWalk {
  readonly #stored: StoredReader;
  readonly #bucket: string;
  readonly #meta: ObjectMeta;
  readonly #expected: Buffer;
  readonly #hash: Hash = createHash('sha256');
  #size = 0;
  #count = 0;
  /** Set once every chunk was read and checked. */
  #complete = false;
  #failure: LiaisonError | undefined;

  constructor(stored: StoredReader, bucket: string, meta: ObjectMeta, expected: Buffer) {
    this.#stored = stored;
    this.#bucket = bucket;
    this.#meta = meta;
    this.#expected = expected;
  }

  read(): ObjectRead {
    const it = this.#walk();
    let outcome: Promise<void> | undefined;
    const drain = async () => {
      try {
        for (let n = await it.next(); !n.done; n = await it.next());
      } catch (err) {
        if (!this.#failure) throw err;
      }
      if (this.#failure) throw this.#failure;
      if (!this.#complete) throw this.#corrupt('its chunks were not read to the end');
    };
    return {
      meta: this.#meta,
      chunks: { [Symbol.asyncIterator]: () => it },
      verified: () => (outcome ??= drain()),
    };
  }

  #corrupt(why: string): LiaisonError {
    this.#failure ??= new LiaisonError('ERR_DECODE', `object store integrity check of ${this.#meta.name} in ${this.#bucket} failed: ${why}`);
    return this.#failure;
  }

  async *#walk(): AsyncGenerator<Uint8Array, void, undefined> {
    const subject = `$O.${this.#bucket}.C.${this.#meta.nuid}`;
    let pending = this.#meta.chunks > 0 ? this.#stored.next(subject, 1) : undefined;
    while (pending) {
      const m = await pending;
      if (!m) throw this.#corrupt(`${this.#count} of ${this.#meta.chunks} chunks found`);
      this.#count++;
      pending = this.#count < this.#meta.chunks ? this.#stored.next(subject, m.seq + 1) : undefined;
      // Read the next chunk while this one is used; settle a prefetch nobody awaits.
      pending?.catch(() => undefined);
      this.#size += m.data.byteLength;
      if (this.#size > this.#meta.size) throw this.#corrupt(`more than the ${this.#meta.size} bytes the metadata declares`);
      this.#hash.update(m.data);
      yield m.data;
    }
    if (this.#size !== this.#meta.size) throw this.#corrupt(`${this.#size} bytes read, ${this.#meta.size} declared`);
    if (!this.#hash.digest().equals(this.#expected)) throw this.#corrupt(`SHA-256 differs from the metadata's ${this.#meta.digest}`);
    this.#complete = true;
  }
}
