import { createHmac } from 'node:crypto';
import { ChangeHistory } from './history.ts';
import type { ChangeBy, DocumentStore, StoredDocument, UpsertOutcome, Withdrawal } from './store.ts';

/**
 * A straightforward DocumentStore: a Map keyed by HMAC-SHA256(key, country|number), so no plaintext
 * document number is held. The reference the compact index is tested against, and enough for
 * small federations; the compact index (./index/) is what holds INTERPOL-scale registries.
 */
export class MapDocumentStore implements DocumentStore {
  readonly #key: Uint8Array;
  readonly #records = new Map<string, StoredDocument>();
  readonly #history = new ChangeHistory<StoredDocument>();

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  #id(country: string, number: string): string {
    return createHmac('sha256', this.#key).update(`${country}|${number}`).digest('base64url');
  }

  upsert(country: string, number: string, record: StoredDocument, change?: ChangeBy): UpsertOutcome {
    const id = this.#id(country, number);
    const old = this.#records.get(id);
    if (old && old.status === record.status && old.type === record.type && old.owner === record.owner && old.reference === record.reference) return 'unchanged';
    if (old && change) this.#history.record({ ...change, key: id, before: { ...old } });
    this.#records.set(id, { ...record });
    return old ? 'updated' : 'added';
  }

  get(country: string, number: string): StoredDocument | undefined {
    const r = this.#records.get(this.#id(country, number));
    return r ? { ...r } : undefined;
  }

  withdraw(messageId: string, sender: string): Withdrawal {
    const w: Withdrawal = { cancelled: 0, restored: 0, superseded: 0 };
    for (const u of this.#history.retract(messageId, sender)) {
      if (u.restore) {
        this.#records.set(u.key, { ...u.restore });
        w.restored++;
      } else w.superseded++;
    }
    for (const [key, r] of this.#records) {
      if (r.reference === messageId && r.owner === sender && r.status !== 'CANCELLED') {
        r.status = 'CANCELLED';
        this.#history.forgetKey(key);
        w.cancelled++;
      }
    }
    return w;
  }

  get size(): number {
    return this.#records.size;
  }
}
