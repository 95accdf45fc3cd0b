/**
 * Ed25519 signing and verification on worker threads (issue 16, "every core at work").
 *
 * Jobs submitted in one turn of the event loop go out as one batch per thread (a `postMessage` costs about
 * as much as one verification, so never one message per signature); inputs are packed into a fresh
 * buffer and transferred; keys are sent to a thread once and cached there by the pool's key id.
 *
 * Jobs that arrive one per turn (a service's requests, each its own socket read) are gathered while the threads are
 * behind: a thread holds at most {@link MAX_BATCHES_IN_FLIGHT} batches (one it works on, the next waiting); jobs
 * submitted meanwhile wait in the pool and go together, as one batch, when a thread answers. An idle thread gets a
 * job at once (no delay is added to gather), so this batches only what would have waited in the thread's queue anyway.
 *
 * Bounded: at most `maxQueued` jobs are posted and unanswered at once; jobs beyond wait, in order, in the
 * pool until answers come back (their promises wait — callers bound what they submit, as a consumer's
 * window does). A thread that dies is replaced; a thread that dies before answering anything three times in a row is
 * not replaced, and when no thread is left the work runs on the calling thread. Size 0 is the calling thread from the
 * start.
 *
 * A job lost with its thread is done again, once (never a hang, never a refusal for the pool's own transient fault):
 * verify and sign are pure — the same input gives the same answer, and doing one twice has no effect beyond its
 * answer — so the pool puts the jobs a dead thread held back at the head of its queue, and they go wherever the next
 * jobs go (another started thread, the replacement once it has started, the calling thread meanwhile or when none is
 * left). Done here rather than by each caller: a service answering a request (rpc.ts `serve()`) would otherwise
 * refuse it, and redoing its whole answer would run its handler twice. Only a job whose thread died: a job that
 * failed on its own (node:crypto threw for it, STATUS_FAILED) is failed, not done again. A job lost a second time
 * fails with ERR_CRYPTO_WORKER (a receiver naks the copy, a sender fails): a job that kills every thread it meets
 * does not go round the pool for ever.
 *
 * Never waiting for a thread to start: starting one and loading its module takes 64–161 ms, against 0–9 ms for a
 * signature, so while no thread has started yet (at creation, or while a dead one's replacement starts) jobs run on
 * the calling thread, at most {@link MAX_INLINE_PER_TURN} per turn of the event loop, and go to the threads from
 * the turn after one has said it started. A process's first message after connecting does not wait for start-up.
 *
 * @module
 */
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { LiaisonError } from '../errors.ts';
import { silentLogger, type Logger } from '../logging.ts';
import { JOB_SIGN, JOB_VERIFY, type JobInput } from './batch.ts';
import { checkCryptoWorkers, defaultCryptoWorkers } from './size.ts';
import { CryptoThread, type PendingJob } from './thread.ts';

/** Default bound on jobs posted to the threads and not answered yet. */
export const DEFAULT_MAX_QUEUED = 1024;
/** Jobs below which a tick's batch is not split over more threads. */
export const MIN_JOBS_PER_BATCH = 8;
/**
 * The most jobs in one batch: a larger turn goes as several, so a thread always has the next batch waiting while
 * the event loop settles the answers of the last one (one batch of everything would leave the thread idle meanwhile).
 */
export const MAX_JOBS_PER_BATCH = 128;
/**
 * The most jobs run on the calling thread in one turn while no thread has started (about 8 ms of verifications):
 * a burst at start-up leaves the event loop turning and goes to the threads as soon as one is up.
 */
export const MAX_INLINE_PER_TURN = 32;
/**
 * The most batches posted to one thread and not answered yet: the one it works on and the next, waiting. Jobs
 * submitted while every started thread holds this many wait in the pool and go out together at the next answer.
 */
export const MAX_BATCHES_IN_FLIGHT = 2;
/** Consecutive deaths before a first answer after which a thread is not replaced. */
export const MAX_EARLY_DEATHS = 3;

/** Options of {@link CryptoPool.create}. */
export interface CryptoPoolOptions {
  /** Worker threads (default {@link defaultCryptoWorkers}: cores − 1, at most 8); 0 runs every job on the calling thread. */
  size?: number;
  logger?: Logger;
  /** The most jobs posted and unanswered at once (default {@link DEFAULT_MAX_QUEUED}). */
  maxQueued?: number;
}

/** Counters of a pool, for tests and diagnostics. */
export interface CryptoPoolStats {
  /** Jobs posted to threads, not answered yet (never above `maxQueued`). */
  queued: number;
  /** Jobs waiting in the pool for room under the bound, plus those collected for the next batch. */
  waiting: number;
  /** The most jobs ever posted and unanswered at once. */
  queuedHighWater: number;
  batches: number;
  jobs: number;
  /** Threads replaced after they died. */
  restarts: number;
  /** Jobs held by a thread when it died (each loss counted: a job lost twice counts twice). */
  lostWithThread: number;
  /** Jobs lost with their thread and submitted again (first losses); the rest of {@link lostWithThread} failed with ERR_CRYPTO_WORKER. */
  redoneAfterLoss: number;
  /** Threads running now. */
  threads: number;
  /** Threads running now that have started (the pool posts jobs only to these). */
  started: number;
  /** Jobs run on the calling thread: size 0, no thread started yet, or none left. */
  inline: number;
  /** The most batches one thread holds now, posted and not answered (never above {@link MAX_BATCHES_IN_FLIGHT}). */
  batchesInFlight: number;
}

/** A pool of crypto worker threads (see the module comment). */
export class CryptoPool {
  /** Worker threads the pool was created with (0: inline). */
  readonly size: number;
  readonly maxQueued: number;
  readonly #logger: Logger;
  readonly #threads: (CryptoThread | undefined)[] = [];
  readonly #earlyDeaths: number[] = [];
  readonly #keyIds = new WeakMap<KeyObject, number>();
  #nextKeyId = 1;
  /** Collected this turn, posted at the next flush. */
  #tick: PendingJob[] = [];
  /** Beyond the bound: admitted in order as answers come back. */
  readonly #waiting: PendingJob[] = [];
  #flushing: NodeJS.Immediate | undefined;
  #closed = false;
  readonly #stats = { queued: 0, queuedHighWater: 0, batches: 0, jobs: 0, restarts: 0, inline: 0, lostWithThread: 0, redoneAfterLoss: 0 };

  private constructor(size: number, maxQueued: number, logger: Logger) {
    this.size = size;
    this.maxQueued = maxQueued;
    this.#logger = logger;
    for (let i = 0; i < size; i++) {
      this.#threads.push(this.#start(i));
      this.#earlyDeaths.push(0);
    }
  }

  /** Start a pool (threads start at once; until one has started, jobs run on the calling thread). */
  static create(o: CryptoPoolOptions = {}): CryptoPool {
    const size = checkCryptoWorkers(o.size) ?? defaultCryptoWorkers();
    const maxQueued = o.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw new LiaisonError('ERR_USAGE', `maxQueued must be a positive integer, not ${String(maxQueued)}`);
    return new CryptoPool(size, maxQueued, o.logger ?? silentLogger());
  }

  /** Verify an Ed25519 signature over `signingInput`: true or false, as `crypto.verify` answers. */
  verify(signingInput: Uint8Array, signature: Uint8Array, publicKey: KeyObject): Promise<boolean> {
    return this.#submit({ kind: JOB_VERIFY, keyId: this.#keyId(publicKey), input: signingInput, signature }, publicKey) as Promise<boolean>;
  }

  /** Sign `signingInput` with an Ed25519 private key: the 64-byte signature. */
  sign(signingInput: Uint8Array, privateKey: KeyObject): Promise<Uint8Array> {
    return this.#submit({ kind: JOB_SIGN, keyId: this.#keyId(privateKey), input: signingInput }, privateKey) as Promise<Uint8Array>;
  }

  /** The worker threads running now (diagnostics and tests). */
  get threads(): readonly Worker[] {
    return this.#threads.flatMap((t) => (t ? [t.worker] : []));
  }

  /** Counters (see {@link CryptoPoolStats}). */
  stats(): CryptoPoolStats {
    const live = this.#threads.filter((t) => t !== undefined);
    return {
      ...this.#stats,
      waiting: this.#waiting.length + this.#tick.length,
      threads: live.length,
      started: live.filter((t) => t.isStarted).length,
      batchesInFlight: Math.max(0, ...live.map((t) => t.batchesInFlight)),
    };
  }

  /**
   * Resolves once each thread running now has started (or ended): from then on jobs go to the threads. Nothing
   * needs to wait for it — jobs submitted before run on the calling thread — but a caller may, to have the threads
   * warm. The threads do not keep the process alive meanwhile.
   */
  async ready(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t?.started));
  }

  /** End every thread; jobs not answered yet fail with ERR_CRYPTO_WORKER. Resolves once every thread has exited. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flushing) clearImmediate(this.#flushing);
    const err = new LiaisonError('ERR_CRYPTO_WORKER', 'the crypto pool was closed before this job ran');
    for (const p of [...this.#tick.splice(0), ...this.#waiting.splice(0)]) p.reject(err);
    await Promise.all(this.#threads.map((t) => t?.close()));
  }

  #keyId(key: KeyObject): number {
    let id = this.#keyIds.get(key);
    if (id === undefined) this.#keyIds.set(key, (id = this.#nextKeyId++));
    return id;
  }

  #submit(job: JobInput, key: KeyObject): Promise<boolean | Uint8Array> {
    if (this.#closed) return Promise.reject(new LiaisonError('ERR_CRYPTO_WORKER', 'the crypto pool is closed'));
    if (!this.#threads.some((t) => t)) {
      this.#stats.inline++;
      return runInline(job, key);
    }
    return new Promise((resolve, reject) => {
      const p: PendingJob = { job, key, resolve, reject };
      if (this.#waiting.length > 0 || this.#stats.queued + this.#tick.length >= this.maxQueued) this.#waiting.push(p);
      else this.#tick.push(p);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#flushing || this.#tick.length === 0) return;
    this.#flushing = setImmediate(() => this.#flush());
  }

  /**
   * Post the jobs collected: split over the least busy threads with room ({@link MAX_BATCHES_IN_FLIGHT}), at least
   * {@link MIN_JOBS_PER_BATCH} and at most {@link MAX_JOBS_PER_BATCH} per batch. What finds no room waits, in order,
   * for the next answer (which flushes again).
   */
  #flush(): void {
    this.#flushing = undefined;
    const live = this.#threads.filter((t): t is CryptoThread => t?.isStarted === true);
    if (live.length === 0) return this.#flushInline();
    const slots = batchSlots(live);
    if (slots.length === 0) return; // every thread is behind: gather until one answers
    const n = this.#tick.length;
    const spread = Math.max(1, Math.min(new Set(slots).size, Math.floor(n / MIN_JOBS_PER_BATCH)), Math.ceil(n / MAX_JOBS_PER_BATCH));
    const parts = Math.min(slots.length, spread);
    const per = Math.min(MAX_JOBS_PER_BATCH, Math.ceil(n / spread));
    let posted = 0;
    for (let i = 0; i < parts && posted < n; i++) {
      const batch = this.#tick.slice(posted, posted + per);
      slots[i]!.post(batch);
      posted += batch.length;
      this.#stats.batches++;
    }
    this.#tick = this.#tick.slice(posted);
    this.#stats.jobs += posted;
    this.#stats.queued += posted;
    this.#stats.queuedHighWater = Math.max(this.#stats.queuedHighWater, this.#stats.queued);
  }

  /**
   * No thread has started: run this turn's jobs on the calling thread — at most {@link MAX_INLINE_PER_TURN} while a
   * thread is starting, the rest in later turns or on the thread once it has started; all of them when none is left.
   */
  #flushInline(): void {
    const starting = this.#threads.some((t) => t);
    for (const p of this.#tick.splice(0, starting ? MAX_INLINE_PER_TURN : this.#tick.length)) this.#runInline(p);
    this.#admit();
  }

  /** Answers came back: admit waiting jobs into the room made. */
  #settled(n: number): void {
    this.#stats.queued -= n;
    this.#admit();
  }

  /** Move waiting jobs, in order, into the next batch while there is room under the bound; schedule its flush. */
  #admit(): void {
    while (this.#waiting.length > 0 && this.#stats.queued + this.#tick.length < this.maxQueued) this.#tick.push(this.#waiting.shift()!);
    this.#schedule();
  }

  #runInline(p: PendingJob): void {
    this.#stats.inline++;
    runInline(p.job, p.key).then(p.resolve, p.reject);
  }

  #start(i: number): CryptoThread {
    return new CryptoThread({
      logger: this.#logger,
      settled: (n) => this.#settled(n),
      died: (t, early, held, code) => this.#died(i, t, early, held, code),
    });
  }

  /** A thread died holding `held` (taken off it, not settled): do them again or fail them, then replace it. */
  #died(i: number, t: CryptoThread, early: boolean, held: PendingJob[], code: number): void {
    this.#stats.queued -= held.length;
    this.#stats.lostWithThread += held.length;
    this.#redo(held, code);
    if (this.#closed) return;
    if (this.#threads[i] === t) this.#replace(i, early);
    // Jobs collected for the dead thread's share, and the ones it held, go to the others (or run inline when none is left).
    this.#admit();
    if (!this.#threads.some((x) => x)) for (const p of this.#waiting.splice(0)) this.#runInline(p);
  }

  /** Start another thread in slot `i` — unless its threads keep dying before their first answer. */
  #replace(i: number, early: boolean): void {
    this.#earlyDeaths[i] = early ? this.#earlyDeaths[i]! + 1 : 0;
    if (this.#earlyDeaths[i]! >= MAX_EARLY_DEATHS) {
      this.#logger.error({ slot: i }, 'a crypto worker thread keeps dying before its first answer; not replacing it');
      this.#threads[i] = undefined;
    } else {
      this.#logger.warn({ slot: i }, 'a crypto worker thread died; its jobs go again, starting another');
      this.#threads[i] = this.#start(i);
      this.#stats.restarts++;
    }
  }

  /**
   * Jobs a dead thread held: each lost for the first time goes back at the head of the next batch, ahead of the
   * jobs submitted after it (they take no more room under `maxQueued` than they did posted); one lost before fails
   * with ERR_CRYPTO_WORKER, as does every one once the pool is closed.
   */
  #redo(held: PendingJob[], code: number): void {
    const again: PendingJob[] = [];
    for (const p of held) {
      p.losses = (p.losses ?? 0) + 1;
      if (this.#closed) p.reject(new LiaisonError('ERR_CRYPTO_WORKER', 'the crypto pool was closed with this job in it'));
      else if (p.losses > 1) p.reject(new LiaisonError('ERR_CRYPTO_WORKER', `the crypto worker thread exited (code ${code}) with this job in it, the second thread to die holding it`, { losses: p.losses }));
      else again.push(p);
    }
    this.#stats.redoneAfterLoss += again.length;
    this.#tick.unshift(...again);
  }
}

/**
 * Where the next batches go: one entry per batch a thread can still take under {@link MAX_BATCHES_IN_FLIGHT}, the
 * least busy threads first and spread round the threads (a thread's second slot after every thread's first).
 */
function batchSlots(live: readonly CryptoThread[]): CryptoThread[] {
  const byLoad = [...live].sort((a, b) => a.outstanding - b.outstanding);
  const slots: CryptoThread[] = [];
  for (let round = 0; round < MAX_BATCHES_IN_FLIGHT; round++) {
    for (const t of byLoad) if (t.batchesInFlight + round < MAX_BATCHES_IN_FLIGHT) slots.push(t);
  }
  return slots;
}

/** One job on the calling thread (a pool of size 0, or one left without threads). */
function runInline(job: JobInput, key: KeyObject): Promise<boolean | Uint8Array> {
  try {
    return Promise.resolve(job.kind === JOB_SIGN ? new Uint8Array(edSign(null, job.input, key)) : edVerify(null, job.input, key, job.signature!));
  } catch (err) {
    return Promise.reject(new LiaisonError('ERR_CRYPTO_WORKER', `could not ${job.kind === JOB_SIGN ? 'sign' : 'verify'}: ${err instanceof Error ? err.message : String(err)}`));
  }
}
