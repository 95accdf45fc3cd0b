/**
 * Runs asynchronous tasks at most `concurrency` at once; the others wait in arrival order, at most `maxWaiting` of
 * them. A service answers its requests through one (issue 16): with verification and signing on worker threads, the
 * requests in process overlap instead of following each other on the event loop, and what arrives beyond both bounds
 * is refused at once by the caller ({@link BoundedRunner.offer} returns false) instead of piling up in memory.
 */
export class BoundedRunner {
  readonly concurrency: number;
  readonly maxWaiting: number;
  #active = 0;
  #waiting: (() => Promise<void>)[] = [];
  #head = 0;
  #highWater = 0;

  constructor(o: { concurrency: number; maxWaiting: number }) {
    this.concurrency = Math.max(1, Math.floor(o.concurrency));
    this.maxWaiting = Math.max(0, Math.floor(o.maxWaiting));
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** The most tasks ever running at once. */
  get highWater(): number {
    return this.#highWater;
  }

  /**
   * Run `task` now if a slot is free, else queue it; false (and `task` never runs) when `maxWaiting` already wait.
   * A task's rejection is its own to handle: the runner only frees the slot.
   */
  offer(task: () => Promise<void>): boolean {
    if (this.#active < this.concurrency) {
      this.#start(task);
      return true;
    }
    if (this.waiting >= this.maxWaiting) return false;
    this.#waiting.push(task);
    return true;
  }

  /** Take a slot and run `task` in it: at once (`now`), or after the event loop has polled I/O again. */
  #start(task: () => Promise<void>, now = true): void {
    this.#active++;
    if (this.#active > this.#highWater) this.#highWater = this.#active;
    const run = () =>
      void Promise.resolve()
        .then(task)
        .catch(() => undefined)
        .finally(() => {
          this.#active--;
          this.#next();
        });
    if (now) run();
    else setImmediate(run);
  }

  /**
   * A slot came free: the next waiting task takes it, after the event loop's next turn. A task whose work is
   * synchronous (a verification on the event loop) would otherwise chain into the next without ever letting I/O
   * in: the loop reads the socket between rounds of at most `concurrency` tasks, so what arrives meanwhile is
   * seen — counted, admitted or refused — while the earlier requests are worked on, not after all of them.
   */
  #next(): void {
    if (this.waiting === 0 || this.#active >= this.concurrency) return;
    const task = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined as never;
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    this.#start(task, false);
  }
}
