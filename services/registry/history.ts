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
 * (the retraction is logged as such). A message is (sender, id): changes are kept by sender and id,
 * so another agency's message with the same id is another change.
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
  /** Every entry in the order made (oldest first), by `<by> <id> <key>`. */
  readonly #entries = new Map<string, ChangeEntry<P>>();
  /** Per document, its changes oldest first. */
  readonly #byKey = new Map<string, ChangeEntry<P>[]>();
  /** Per message (`<by> <id>`), the documents it changed. */
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
    const k = entryKey(e.by, e.id, e.key);
    if (this.#entries.has(k)) return;
    this.#entries.set(k, e);
    const chain = this.#byKey.get(e.key);
    if (chain) chain.push(e);
    else this.#byKey.set(e.key, [e]);
    const m = messageOf(e.by, e.id);
    const keys = this.#byId.get(m);
    if (keys) keys.push(e.key);
    else this.#byId.set(m, [e.key]);
    while (this.#entries.size > this.#max) this.#forget(this.#entries.keys().next().value!);
  }

  /** True when `by`'s message `id` changed some document. */
  knows(id: string, by: string): boolean {
    return (this.#byId.get(messageOf(by, id))?.length ?? 0) > 0;
  }

  /**
   * Take back every change message `id` made, if `by` sent it: for each document, the state to
   * restore when the change was the latest one. Changes of another sender are left alone.
   */
  retract(id: string, by: string): Undo<P>[] {
    const out: Undo<P>[] = [];
    for (const key of [...(this.#byId.get(messageOf(by, id)) ?? [])]) {
      const e = this.#entries.get(entryKey(by, id, key));
      if (!e) continue;
      const chain = this.#byKey.get(key)!;
      const at = chain.indexOf(e);
      if (at === chain.length - 1) out.push({ key, restore: e.before });
      else {
        const next = { ...chain[at + 1]!, before: e.before };
        chain[at + 1] = next;
        this.#entries.set(entryKey(next.by, next.id, key), next);
        out.push({ key });
      }
      this.#forget(entryKey(by, id, key));
    }
    return out;
  }

  /** Forget every change of one document (its creating report was retracted: nothing to restore to). */
  forgetKey(key: string): void {
    for (const e of [...(this.#byKey.get(key) ?? [])]) this.#forget(entryKey(e.by, e.id, key));
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
    const at = chain.findIndex((x) => x.id === e.id && x.by === e.by);
    if (at >= 0) chain.splice(at, 1);
    if (chain.length === 0) this.#byKey.delete(e.key);
    const m = messageOf(e.by, e.id);
    const keys = this.#byId.get(m)!.filter((x) => x !== e.key);
    if (keys.length) this.#byId.set(m, keys);
    else this.#byId.delete(m);
  }
}

/** A message, `<sender> <id>`. */
function messageOf(by: string, id: string): string {
  return `${by} ${id}`;
}

/** One change: a sender's message on one document. */
function entryKey(by: string, id: string, key: string): string {
  return `${by} ${id} ${key}`;
}
