/**
 * The owner agencies of document records, interned: each record stores a uint16 index into this table instead of
 * the agency id string.
 *
 * @module
 */
import { LiaisonError } from '../../sdk/errors.ts';

/** Most agencies one index can name (uint16 owner field). */
export const MAX_AGENCIES = 0x10000;

/** An append-only table of agency ids ↔ small integers. */
export class AgencyTable {
  readonly #ids: string[] = [];
  readonly #index = new Map<string, number>();

  /** Build a table holding `ids` at their positions (snapshot load). */
  static from(ids: readonly string[]): AgencyTable {
    const t = new AgencyTable();
    for (const id of ids) t.intern(id);
    return t;
  }

  /** The index of `id`, added if new. Throws `ERR_BODY_INVALID` for an empty id or a full table. */
  intern(id: string): number {
    const known = this.#index.get(id);
    if (known !== undefined) return known;
    if (typeof id !== 'string' || id.length === 0) throw new LiaisonError('ERR_BODY_INVALID', 'owner: empty agency id', { field: 'owner' });
    if (this.#ids.length >= MAX_AGENCIES) throw new LiaisonError('ERR_BODY_INVALID', `owner: more than ${MAX_AGENCIES} owner agencies`, { field: 'owner' });
    this.#ids.push(id);
    this.#index.set(id, this.#ids.length - 1);
    return this.#ids.length - 1;
  }

  /** The agency id at `index` (undefined if out of range). */
  idAt(index: number): string | undefined {
    return this.#ids[index];
  }

  /** Every agency id, in index order. */
  ids(): readonly string[] {
    return this.#ids;
  }

  /** Approximate bytes held (strings and map entries). */
  memoryBytes(): number {
    let n = 0;
    for (const id of this.#ids) n += 2 * id.length + 80;
    return n;
  }
}
