import { LiaisonError } from '../sdk/errors.ts';
import { MAX_CAS_ATTEMPTS, type CorrelationStore, type EntityRecord, type StoredEntity } from './store.ts';

/**
 * One change to a value's record: the record it becomes, from the current one (undefined: none yet).
 * Returns `cur` itself when it changes nothing. Must not modify `cur`, and may run more than once (again
 * after a conflict, on the fresh record): what it notes of its own run is read after the write, from
 * its last run, which is the one written.
 */
export type EntityChange = (cur: EntityRecord | undefined) => EntityRecord | undefined;

/** Counters of an {@link EntityWriter}. */
export interface EntityWriterStats {
  /** Record writes (compare-and-set) that succeeded. */
  writes: number;
  /** Changes those writes carried (more than `writes` when changes on one value were batched). */
  changes: number;
  /** Writes another writer pre-empted (the record was read again and the batch re-applied). */
  conflicts: number;
}

/** Options of {@link EntityWriter.update}. */
export interface UpdateOptions {
  /**
   * Nothing waits for this change soon (the centre's taking of replaced alerts off a record): it goes with the value's
   * next write instead of a write of its own, or alone after {@link LATER_MS} (or at {@link EntityWriter.hurry}).
   */
  later?: boolean;
}

/**
 * Longest a change asked for `later` waits for its value's next write. A hot value is written again well within it,
 * so its replaced alerts come off in that write (issue 16: a write of its own was one record write in five on the
 * centre bench, each of the value's whole record).
 */
export const LATER_MS = 1_000;

interface Pending {
  change: EntityChange;
  resolve: (e: StoredEntity | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * Per-value batching of the centre's record writes. Changes to one value are applied in the order
 * they were asked for, and those that arrive while a write of that value is in flight are applied
 * together, in one compare-and-set write, once it settles: one write per value per batch instead of
 * one read and one write per change. Each caller's promise settles after the write that carries its
 * change is durable in the bucket (or rejects with it), so a handler that awaits it never acknowledges
 * a message whose change could still be lost. Different values are written in parallel. On a conflict
 * (another replica, a retraction) the record is read again and the whole batch re-applied.
 */
export class EntityWriter {
  readonly #store: CorrelationStore;
  readonly #queues = new Map<string, Pending[]>();
  /** Changes asked for `later`, per value, with the timer that writes them alone. */
  readonly #later = new Map<string, { waiting: Pending[]; timer: ReturnType<typeof setTimeout> }>();
  readonly stats: EntityWriterStats = { writes: 0, changes: 0, conflicts: 0 };

  constructor(store: CorrelationStore) {
    this.#store = store;
  }

  /**
   * Apply `change` to the record of `hash`; resolves with the record as written (undefined: there is none). Changes
   * apply in the order asked for, those asked for `later` included (they go ahead of the change that takes them along).
   */
  update(hash: string, change: EntityChange, o: UpdateOptions = {}): Promise<StoredEntity | undefined> {
    return new Promise((resolve, reject) => {
      const p = { change, resolve, reject };
      if (o.later) this.#hold(hash, p);
      else this.#enqueue(hash, [...this.#takeLater(hash), p]);
    });
  }

  /** Write now every change still waiting to go with its value's next write. */
  hurry(): void {
    for (const hash of [...this.#later.keys()]) this.#enqueue(hash, this.#takeLater(hash));
  }

  #hold(hash: string, p: Pending): void {
    const held = this.#later.get(hash);
    if (held) {
      held.waiting.push(p);
      return;
    }
    const timer = setTimeout(() => this.#enqueue(hash, this.#takeLater(hash)), LATER_MS);
    timer.unref();
    this.#later.set(hash, { waiting: [p], timer });
  }

  #takeLater(hash: string): Pending[] {
    const held = this.#later.get(hash);
    if (!held) return [];
    clearTimeout(held.timer);
    this.#later.delete(hash);
    return held.waiting;
  }

  #enqueue(hash: string, changes: Pending[]): void {
    if (changes.length === 0) return;
    const queue = this.#queues.get(hash);
    if (queue) {
      queue.push(...changes);
      return;
    }
    this.#queues.set(hash, changes);
    void this.#drain(hash);
  }

  /** Write batches of `hash` until no change waits; the queue's presence marks a write in flight. */
  async #drain(hash: string): Promise<void> {
    const queue = this.#queues.get(hash)!;
    while (queue.length > 0) {
      const batch = queue.splice(0);
      try {
        const written = await this.#write(hash, batch.map((p) => p.change));
        for (const p of batch) p.resolve(written);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.#queues.delete(hash);
  }

  async #write(hash: string, changes: EntityChange[]): Promise<StoredEntity | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cur = await this.#store.cachedEntity(hash);
      const record = changes.reduce<EntityRecord | undefined>((r, change) => change(r), cur?.record);
      if (record === cur?.record) return cur;
      if (!record) throw new LiaisonError('ERR_INTERNAL', `a change to correlation record ${hash} removed it; removals go through replaceEntity`);
      const revision = await this.#store.writeEntity(hash, cur?.revision ?? 0, record);
      if (revision !== undefined) {
        this.stats.writes++;
        this.stats.changes += changes.length;
        return { hash, record, revision };
      }
      this.stats.conflicts++;
    }
    throw new LiaisonError('ERR_TIMEOUT', `correlation record ${hash} kept changing under concurrent updates; the message will be redelivered`);
  }
}
