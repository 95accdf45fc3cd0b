import type { EntityRecord, MAX_ALERTS, MAX_OCCURRENCES } from './store.ts';

/** A record as last written or read by this process, with its KV revision and encoded size. */
export interface CachedEntity {
  record: EntityRecord;
  revision: number;
  /** Bytes of its JSON encoding (what the bound counts). */
  bytes: number;
}

/**
 * Default bound of the centre's entity cache: 16 MiB of encoded records (the parsed objects take a few
 * times that on the heap). A record is at most ~250 KB ({@link MAX_OCCURRENCES} and {@link MAX_ALERTS}).
 */
export const ENTITY_CACHE_BYTES = 16 * 2 ** 20;

/**
 * The correlation records this process last wrote or read, by entity hash, so a write does not first
 * read back what it just wrote. Bounded by the records' encoded size (least recently used leave first):
 * a record grows with its occurrences, so a count bound would not bound memory. Only a hint: every
 * write from it is a compare-and-set at its revision, and a conflict (another replica, a retraction)
 * evicts it, so the next attempt reads the bucket.
 */
export class EntityCache {
  readonly #max: number;
  readonly #map = new Map<string, CachedEntity>();
  #bytes = 0;

  constructor(maxBytes = ENTITY_CACHE_BYTES) {
    this.#max = maxBytes;
  }

  /** The cached record (marked recently used), or undefined. */
  get(hash: string): CachedEntity | undefined {
    const e = this.#map.get(hash);
    if (!e) return undefined;
    this.#map.delete(hash);
    this.#map.set(hash, e);
    return e;
  }

  /** Remember a record at a revision; a record larger than the whole bound is not kept. */
  set(hash: string, e: CachedEntity): void {
    this.delete(hash);
    if (e.bytes > this.#max) return;
    this.#map.set(hash, e);
    this.#bytes += e.bytes;
    for (const [oldest, o] of this.#map) {
      if (this.#bytes <= this.#max) break;
      this.#map.delete(oldest);
      this.#bytes -= o.bytes;
    }
  }

  /** Forget a record (after a conflict or a delete). */
  delete(hash: string): void {
    const e = this.#map.get(hash);
    if (!e) return;
    this.#map.delete(hash);
    this.#bytes -= e.bytes;
  }

  /** Encoded bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records held now. */
  get size(): number {
    return this.#map.size;
  }
}
