/**
 * One worker thread of a {@link CryptoPool} (pool.ts): posts batches to it, settles each job from the answer,
 * remembers which keys the thread holds, and hands every job it holds back to the pool if the thread dies (the pool
 * does it again or fails it) — a job never waits on a dead thread. Closed, it fails what it holds with ERR_CRYPTO_WORKER.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { LiaisonError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { JOB_SIGN, packBatch, SIGNATURE_BYTES, STATUS_FAILED, STATUS_OK, THREAD_STARTED, type BatchAnswer, type JobInput } from './batch.ts';

/** The most keys one thread caches; past it the pool tells the thread to start its cache afresh. */
export const MAX_THREAD_KEYS = 4096;

/** A job waiting for its result. */
export interface PendingJob {
  job: JobInput;
  key: KeyObject;
  resolve: (value: boolean | Uint8Array) => void;
  reject: (err: LiaisonError) => void;
  /** Threads that died holding this job (the pool does a job again only after its first loss). */
  losses?: number;
}

/** What a thread tells its pool. */
export interface ThreadEvents {
  /** `n` jobs of this thread were settled (answered or failed). */
  settled: (n: number) => void;
  /**
   * The thread ended while the pool was open. `early`: before it answered any batch; `held`: the jobs it held, posted
   * and unanswered, in the order they were posted — neither settled nor counted by {@link ThreadEvents.settled}: the
   * pool does them again or fails them. `exitCode`: the thread's.
   */
  died: (thread: CryptoThread, early: boolean, held: PendingJob[], exitCode: number) => void;
  logger: Logger;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);

/** A crypto worker thread with the jobs it holds. */
export class CryptoThread {
  readonly worker: Worker;
  /** Jobs posted and not answered yet. */
  outstanding = 0;
  /** The thread has said it listens ({@link THREAD_STARTED}); the pool posts only to started threads. */
  isStarted = false;
  /** Resolves true once the thread has started, false if it ended first. */
  readonly started: Promise<boolean>;
  #markStarted: (up: boolean) => void = () => undefined;
  readonly #events: ThreadEvents;
  readonly #keys = new Set<number>();
  readonly #sent = new Map<number, PendingJob[]>();
  #nextBatch = 1;
  #answered = false;
  #closing = false;
  readonly #exited: Promise<void>;

  constructor(events: ThreadEvents) {
    this.#events = events;
    this.worker = new Worker(WORKER_URL);
    this.worker.unref();
    this.started = new Promise((resolve) => (this.#markStarted = resolve));
    this.worker.on('message', (m: BatchAnswer | typeof THREAD_STARTED) => (m === THREAD_STARTED ? this.#start() : this.#answer(m)));
    this.worker.on('error', (err) => events.logger.warn({ err, threadId: this.worker.threadId }, 'crypto worker thread failed'));
    this.#exited = new Promise((resolve) => this.worker.once('exit', (code) => resolve(this.#exit(code))));
  }

  /** Post `jobs` as one batch. */
  post(jobs: PendingJob[]): void {
    const fresh: [number, KeyObject][] = [];
    const ids = new Set<number>();
    for (const p of jobs) if (!this.#keys.has(p.job.keyId) && !ids.has(p.job.keyId)) (ids.add(p.job.keyId), fresh.push([p.job.keyId, p.key]));
    const reset = this.#keys.size + fresh.length > MAX_THREAD_KEYS;
    if (reset) {
      this.#keys.clear();
      fresh.length = 0;
      ids.clear();
      for (const p of jobs) if (!ids.has(p.job.keyId)) (ids.add(p.job.keyId), fresh.push([p.job.keyId, p.key]));
    }
    for (const [id] of fresh) this.#keys.add(id);
    const id = this.#nextBatch++;
    const { message, transfer } = packBatch(id, reset, fresh, jobs.map((p) => p.job));
    this.#sent.set(id, jobs);
    if (this.outstanding === 0) this.worker.ref();
    this.outstanding += jobs.length;
    this.worker.postMessage(message, transfer);
  }

  /** Batches posted to this thread and not answered yet. */
  get batchesInFlight(): number {
    return this.#sent.size;
  }

  #start(): void {
    this.isStarted = true;
    this.#markStarted(true);
  }

  #answer(a: BatchAnswer): void {
    const jobs = this.#sent.get(a.id);
    if (!jobs) return;
    this.#sent.delete(a.id);
    this.#answered = true;
    let s = 0;
    jobs.forEach((p, i) => {
      const signing = p.job.kind === JOB_SIGN;
      const status = a.status[i];
      if (status === STATUS_FAILED) p.reject(new LiaisonError('ERR_CRYPTO_WORKER', `the crypto worker could not ${signing ? 'sign' : 'verify'}: ${a.errors[i] ?? 'unknown failure'}`));
      else if (signing) p.resolve(a.signatures.slice(s * SIGNATURE_BYTES, (s + 1) * SIGNATURE_BYTES));
      else p.resolve(status === STATUS_OK);
      if (signing) s++;
    });
    this.#settle(jobs.length);
  }

  #settle(n: number): void {
    this.outstanding -= n;
    if (this.outstanding === 0) this.worker.unref();
    this.#events.settled(n);
  }

  /** Take every job still held (the thread is gone), in the order posted; they leave {@link outstanding}. */
  #takeAll(): PendingJob[] {
    const held = [...this.#sent.values()].flat();
    this.#sent.clear();
    this.outstanding -= held.length;
    this.worker.unref();
    return held;
  }

  #exit(code: number): void {
    this.#markStarted(this.isStarted);
    const held = this.#takeAll();
    if (!this.#closing) return this.#events.died(this, !this.#answered, held, code);
    const err = new LiaisonError('ERR_CRYPTO_WORKER', 'the crypto pool was closed with this job in it', { threadId: this.worker.threadId });
    for (const p of held) p.reject(err);
    if (held.length) this.#events.settled(held.length);
  }

  /** End the thread; resolves once it has exited (its jobs failed). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.worker.terminate();
    await this.#exited;
  }
}
