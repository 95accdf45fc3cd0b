import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import type { SigningKey } from '../trust/key-file.ts';
import { signCheckpoint } from './checkpoint.ts';
import { encodeEntry, entrySubject, sha256, type Entry, type EntryBody } from './entry.ts';
import { readChainHead, type ChainHead } from './ledger-stream.ts';

/** Options of the ledger writer. */
export interface WriterOptions {
  /** A signed checkpoint after this many entries (default 1 000). */
  checkpointEvery?: number;
  /** Entries published but not yet acknowledged before append() makes its caller wait (default 512). */
  maxInFlight?: number;
  logger?: Logger;
  clock?: () => Date;
}

/**
 * The single writer of the ledger. Appends are numbered and chained synchronously, in call order,
 * then published pipelined, each with `Nats-Expected-Last-Sequence` = the previous entry's stream
 * sequence: JetStream refuses an entry unless it lands right after its predecessor, so a second
 * writer, or a ledger changed underneath, fails the writer (ERR_AUDIT_WRITE) instead of forking
 * the chain. Every `checkpointEvery` entries, and on {@link checkpoint}, it appends a checkpoint
 * signed by the audit key over the chain head and count.
 */
export class LedgerWriter {
  readonly #js: JetStreamClient;
  readonly #key: SigningKey;
  readonly #every: number;
  readonly #maxInFlight: number;
  readonly #logger?: Logger;
  readonly #clock: () => Date;
  readonly #inflight = new Set<Promise<void>>();
  /** Appends waiting for room in the pipeline, woken one per settled publish, oldest first. */
  readonly #roomWaiters: (() => void)[] = [];
  #head: ChainHead;
  #since: number;
  #failed: LiaisonError | undefined;
  #onFailure: ((err: LiaisonError) => void) | undefined;
  /** Entries appended by this writer, by kind. */
  readonly counts: Partial<Record<Entry['kind'], number>> = {};

  private constructor(js: JetStreamClient, key: SigningKey, head: ChainHead, o: WriterOptions) {
    this.#js = js;
    this.#key = key;
    this.#head = head;
    this.#every = o.checkpointEvery ?? 1_000;
    this.#maxInFlight = o.maxInFlight ?? 512;
    this.#logger = o.logger;
    this.#clock = o.clock ?? (() => new Date());
    this.#since = head.n > 0 && head.kind !== 'checkpoint' ? 1 : 0;
  }

  /** Open the writer at the ledger's current head. */
  static async open(nc: NatsConnection, key: SigningKey, o: WriterOptions = {}): Promise<LedgerWriter> {
    let head: ChainHead;
    try {
      head = await readChainHead(nc);
    } catch (err) {
      throw asLiaisonError(err, 'ERR_AUDIT_LEDGER', 'cannot read the head of the audit ledger');
    }
    return new LedgerWriter(jetstream(nc), key, head, o);
  }

  /** The current chain head (entry number and hash). */
  get head(): Readonly<ChainHead> {
    return this.#head;
  }

  /** The failure that stopped this writer, if any. */
  get failed(): LiaisonError | undefined {
    return this.#failed;
  }

  /** Called once, on the first failed append. */
  onFailure(cb: (err: LiaisonError) => void): void {
    this.#onFailure = cb;
  }

  /**
   * Append an entry. It is chained at once (call order is ledger order); the returned promise
   * resolves when the pipeline has room again, not when it is stored ({@link flush} waits for that).
   * `onLost` is called once if the entry is never stored: refused because the writer has failed, or
   * its publish failed (then the promise may already have resolved) — what an entry in flight when
   * the writer fails becomes (the audit counts such a request as not recorded).
   */
  async append(body: EntryBody, onLost?: () => void): Promise<void> {
    if (this.#failed) {
      onLost?.();
      throw this.#failed;
    }
    this.#write(body, onLost);
    if (body.kind !== 'checkpoint' && ++this.#since >= this.#every) this.checkpoint();
    if (this.#inflight.size >= this.#maxInFlight && !this.#failed) await new Promise<void>((wake) => this.#roomWaiters.push(wake));
    if (this.#failed) throw this.#failed;
  }

  /**
   * A publish settled: once the pipeline is below its bound (or the writer failed), every waiting append returns —
   * its own entry is already published. Each waiter is woken once, O(1): racing every in-flight publish from every
   * waiter — what this did before — attached a reaction (and a derived promise) to each in-flight publish per waiter
   * per settle, quadratic in the backlog; the audit of a registry flood (one append per check, not awaited) held
   * millions of promises, gigabytes, in the exchange (issue 16).
   */
  #wakeWaiters(): void {
    if (this.#inflight.size >= this.#maxInFlight && !this.#failed) return;
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /** Append a signed checkpoint over the current head, when entries came since the last one. */
  checkpoint(): void {
    if (this.#failed || this.#since === 0) return;
    const at = this.#clock().toISOString();
    const { n: count, hash: head } = this.#head;
    this.#write({ kind: 'checkpoint', at, count, head, kid: this.#key.kid, jws: signCheckpoint({ count, head, at }, this.#key) });
    this.#since = 0;
  }

  /** Wait until every appended entry is stored (or the writer failed: then throw). */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    if (this.#failed) throw this.#failed;
  }

  #write(body: EntryBody, onLost?: () => void): void {
    const n = this.#head.n + 1;
    const entry = { v: 1, n, prev: this.#head.hash, ...body } as Entry;
    const bytes = encodeEntry(entry);
    const expected = this.#head.seq;
    this.#head = { n, hash: sha256(bytes), seq: expected + 1, kind: entry.kind };
    this.counts[entry.kind] = (this.counts[entry.kind] ?? 0) + 1;
    const p: Promise<void> = this.#js
      .publish(entrySubject(entry), bytes, { expect: { lastSequence: expected }, timeout: 10_000 })
      .then((ack) => {
        if (ack.seq !== expected + 1) throw new Error(`stored at sequence ${ack.seq}, expected ${expected + 1}`);
      })
      .catch((err: unknown) => {
        this.#fail(n, err);
        onLost?.();
      })
      .finally(() => {
        this.#inflight.delete(p);
        this.#wakeWaiters();
      });
    this.#inflight.add(p);
  }

  #fail(n: number, err: unknown): void {
    if (this.#failed) return;
    this.#failed = new LiaisonError('ERR_AUDIT_WRITE', `audit entry ${n} was not appended: ${(err as Error)?.message ?? String(err)}`, { entry: n }, { cause: err });
    this.#logger?.error({ code: this.#failed.code, entry: n }, this.#failed.message);
    try {
      this.#onFailure?.(this.#failed);
    } catch {
      // the callback's own problem
    }
  }
}
