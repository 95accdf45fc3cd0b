/**
 * What a retraction needs to undo a change (issue 6): for each message that changed an *existing*
 * document record (a later report, a status change, a batch item), the record as it was before,
 * under the store's opaque key of the document (a keyed hash: never the number). A record a message
 * *created* needs no entry: its reference is that message's id, and a retraction cancels it.
 *
 * Per document the changes form a chain, oldest first. Retracting the latest change restores the
 * record as it was before it; retracting an earlier one leaves the later changes standing and hands
 * its "before" to the next change (so undoing that one later restores the state before both).
 * Bounded: the oldest entries go first; a change that has left the history can no longer be undone
 * (the retraction is logged as such).
 */

/** One change, with the state to restore. `P` is the store's form of a record. */
export interface ChangeEntry<P> {
  /** Id of the message that made the change. */
  id: string;
  /** The agency that sent it: only it may retract it. */
  by: string;
  /** The store's opaque key of the document. */
  key: string;
  /** The record before the change. */
  before: P;
}

/** What undoing one change does to one document. */
export interface Undo<P> {
  key: string;
  /** The state to restore now (the change was the latest), or undefined (later changes stand). */
  restore?: P;
}

/** Changes remembered by default (≈ 100 B each). */
export const MAX_CHANGES = 20_000;

export class ChangeHistory<P> {
  readonly #max: number;
  /** Every entry in the order made (oldest first), by `<id> <key>`. */
  readonly #entries = new Map<string, ChangeEntry<P>>();
  /** Per document, its changes oldest first. */
  readonly #byKey = new Map<string, ChangeEntry<P>[]>();
  /** Per message, the documents it changed. */
  readonly #byId = new Map<string, string[]>();

  constructor(max = MAX_CHANGES, restored: readonly ChangeEntry<P>[] = []) {
    this.#max = max;
    for (const e of restored) this.record(e);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Remember a change (a repeat of the same message on the same document is ignored). */
  record(e: ChangeEntry<P>): void {
    const k = `${e.id} ${e.key}`;
    if (this.#entries.has(k)) return;
    this.#entries.set(k, e);
    const chain = this.#byKey.get(e.key);
    if (chain) chain.push(e);
    else this.#byKey.set(e.key, [e]);
    const keys = this.#byId.get(e.id);
    if (keys) keys.push(e.key);
    else this.#byId.set(e.id, [e.key]);
    while (this.#entries.size > this.#max) this.#forget(this.#entries.keys().next().value!);
  }

  /** True when `id` changed some document and `by` sent it. */
  knows(id: string, by: string): boolean {
    const keys = this.#byId.get(id);
    return !!keys && keys.some((key) => this.#entries.get(`${id} ${key}`)?.by === by);
  }

  /**
   * Take back every change message `id` made, if `by` sent it: for each document, the state to
   * restore when the change was the latest one. Changes of another sender are left alone.
   */
  retract(id: string, by: string): Undo<P>[] {
    const out: Undo<P>[] = [];
    for (const key of this.#byId.get(id) ?? []) {
      const e = this.#entries.get(`${id} ${key}`);
      if (!e || e.by !== by) continue;
      const chain = this.#byKey.get(key)!;
      const at = chain.indexOf(e);
      if (at === chain.length - 1) out.push({ key, restore: e.before });
      else {
        chain[at + 1] = { ...chain[at + 1]!, before: e.before };
        this.#entries.set(`${chain[at + 1]!.id} ${key}`, chain[at + 1]!);
        out.push({ key });
      }
      this.#forget(`${id} ${key}`);
    }
    return out;
  }

  /** Forget every change of one document (its creating report was retracted: nothing to restore to). */
  forgetKey(key: string): void {
    for (const e of [...(this.#byKey.get(key) ?? [])]) this.#forget(`${e.id} ${key}`);
  }

  /** Every entry, oldest first (snapshots). */
  export(): ChangeEntry<P>[] {
    return [...this.#entries.values()];
  }

  #forget(k: string): void {
    const e = this.#entries.get(k);
    if (!e) return;
    this.#entries.delete(k);
    const chain = this.#byKey.get(e.key)!;
    const at = chain.findIndex((x) => x.id === e.id);
    if (at >= 0) chain.splice(at, 1);
    if (chain.length === 0) this.#byKey.delete(e.key);
    const keys = this.#byId.get(e.id)!.filter((x) => x !== e.key);
    if (keys.length) this.#byId.set(e.id, keys);
    else this.#byId.delete(e.id);
  }
}
