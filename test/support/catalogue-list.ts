import type { TypeCatalog } from '../../services/sdk/policy/index.ts';
import { MESSAGE_CATALOGUE } from '../../services/sdk/schema/catalogue-list.ts';

/**
 * The message catalogue (family → short type names) as a plain list, without loading the protobuf
 * schemas, so the policy engine can be tested on its own.
 */
export const CATALOGUE: Readonly<Record<string, readonly string[]>> = MESSAGE_CATALOGUE;

/** A {@link TypeCatalog} over {@link CATALOGUE} (or another family → types list). */
export function typeCatalogFromList(list: Readonly<Record<string, readonly string[]>> = CATALOGUE): TypeCatalog {
  const family = new Map<string, string>();
  for (const [f, types] of Object.entries(list)) for (const t of types) family.set(t, f);
  const names = [...family.keys()];
  return { familyOf: (type: string) => family.get(type), types: () => names };
}
