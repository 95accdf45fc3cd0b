/**
 * One worker thread of a {@link CryptoPool} (pool.ts): posts batches to it, settles each job from the answer,
 * remembers which keys the thread holds, and fails every job it holds with ERR_CRYPTO_WORKER if the thread dies
 * — a job never waits on a dead thread.
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
}

/** What a thread tells its pool. */
export interface ThreadEvents {
  /** `n` jobs of this thread were settled (answered or failed). */
  settled: (n: number) => void;
  /**
   * The thread ended while the pool was open (its jobs failed already). `early`: before it answered any batch;
   * `failed`: how many jobs it held, failed with ERR_CRYPTO_WORKER.
   */
  died: (thread: CryptoThread, early: boolean, failed: number) => void;
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

  /** Fail every job still held (the thread is gone); how many there were. */
  #failAll(why: string): number {
    const held = [...this.#sent.values()].flat();
    this.#sent.clear();
    const err = new LiaisonError('ERR_CRYPTO_WORKER', why, { threadId: this.worker.threadId });
    for (const p of held) p.reject(err);
    if (held.length) this.#settle(held.length);
    return held.length;
  }

  #exit(code: number): void {
    this.#markStarted(this.isStarted);
    const failed = this.#failAll(this.#closing ? 'the crypto pool was closed with this job in it' : `the crypto worker thread exited (code ${code}) with this job in it`);
    if (!this.#closing) this.#events.died(this, !this.#answered, failed);
  }

  /** End the thread; resolves once it has exited (its jobs failed). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.worker.terminate();
    await this.#exited;
  }
}
