import { createHmac } from 'node:crypto';
import type { DocumentStore, StoredDocument, UpsertOutcome } from './store.ts';

/**
 * A straightforward DocumentStore: a Map keyed by HMAC-SHA256(key, country|number), so no plaintext
 * document number is held. The reference the compact index is tested against, and enough for
 * small federations; the compact index (./index/) is what holds INTERPOL-scale registries.
 */
export class MapDocumentStore implements DocumentStore {
  readonly #key: Uint8Array;
  readonly #records = new Map<string, StoredDocument>();

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  #id(country: string, number: string): string {
    return createHmac('sha256', this.#key).update(`${country}|${number}`).digest('base64url');
  }

  upsert(country: string, number: string, record: StoredDocument): UpsertOutcome {
    const id = this.#id(country, number);
    const old = this.#records.get(id);
    if (old && old.status === record.status && old.type === record.type && old.owner === record.owner && old.reference === record.reference) return 'unchanged';
    this.#records.set(id, { ...record });
    return old ? 'updated' : 'added';
  }

  get(country: string, number: string): StoredDocument | undefined {
    const r = this.#records.get(this.#id(country, number));
    return r ? { ...r } : undefined;
  }

  withdraw(reference: string): number {
    let n = 0;
    for (const r of this.#records.values()) {
      if (r.reference === reference && r.status !== 'CANCELLED') {
        r.status = 'CANCELLED';
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#records.size;
  }
}
