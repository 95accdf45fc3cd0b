import type { TypeCatalog } from '../policy/index.ts';
import type { Catalog } from '../schema/index.ts';
import { attachmentTiersOf } from '../schema/attachment-fields.ts';

const adapters = new WeakMap<Catalog, TypeCatalog>();

/** The schema catalogue seen through the small interface the policy engine needs. */
export function typeCatalogOf(catalog: Catalog): TypeCatalog {
  let tc = adapters.get(catalog);
  if (!tc) {
    const names = [...catalog.types.keys()];
    tc = { familyOf: (type: string) => catalog.types.get(type)?.family, types: () => names, attachmentTiers: (type: string) => attachmentTiersOf(catalog, type) };
    adapters.set(catalog, tc);
  }
  return tc;
}
