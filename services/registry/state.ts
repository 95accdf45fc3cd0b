import { randomBytes } from 'node:crypto';
import { createKeyedHasher, REGISTRY_KEY_BYTES } from './index/index.ts';
import { IndexDocumentStore } from './index-store.ts';
import { PersonAlerts } from './persons.ts';

/**
 * The registry's in-memory state under one secret key: the compact document index and the person
 * alerts. The key never leaves the process (no plaintext numbers or names are stored, only keyed hashes);
 * without a key a fresh one is drawn, and the index is rebuilt from the streams.
 */
export function registryState(key: Uint8Array = randomBytes(REGISTRY_KEY_BYTES), capacity?: number): { store: IndexDocumentStore; persons: PersonAlerts } {
  return { store: new IndexDocumentStore(key, capacity), persons: new PersonAlerts(createKeyedHasher(key)) };
}
