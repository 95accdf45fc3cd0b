/**
 * How the case registry runs transitions in parallel (issue 13): messages of different cases are
 * handled at once, messages of one case one after another, in the order they arrived.
 *
 * Two serial steps per message:
 * 1. **its case key is resolved in its lane** — one lane per durable consumer, in delivery order. A
 *    follow-up names its case by key or by an earlier message's (sender, id); a reply that arrives
 *    before its case exists waits in its lane (as the whole consumer waited before), so a later
 *    message of the same consumer never overtakes it on its case;
 * 2. **its transition runs in its case's queue** — entered while the lane is still held, so the queue
 *    keeps delivery order; a case's next message starts when the previous one has settled (stored,
 *    notices published).
 *
 * Both are chains of promises keyed by name ({@link KeyedSerial}); nothing else is held. They are
 * bounded by what the SDK hands over at once (the consumers' in-flight windows): a key's chain ends
 * when its last task settles.
 *
 * @module
 */

/** Tasks run one after another per key (in the order they were queued), and at once across keys. */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waiting = new Map<string, number>();

  /** Run `task` after every task queued before it under `key` has settled (whether or not it failed). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    this.#waiting.set(key, (this.#waiting.get(key) ?? 0) + 1);
    const result = before.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      const left = (this.#waiting.get(key) ?? 1) - 1;
      if (left > 0) this.#waiting.set(key, left);
      else this.#waiting.delete(key);
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Tasks queued or running under `key`. */
  queued(key: string): number {
    return this.#waiting.get(key) ?? 0;
  }

  /** Keys with a task queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}

/** What {@link CasePartitions} needs from the registry. */
export interface PartitionSteps<M> {
  /** The lane a message is ordered in (its consumer). */
  lane(msg: M): string;
  /** The key of the message's case; may wait for the case to appear. Undefined: it belongs to no known case. */
  caseKey(msg: M): Promise<string | undefined>;
  /** The queue a message runs in once its case is known (the case key, or a queue of its own). */
  queueOf(msg: M, caseKey: string | undefined): string;
  /** Apply the message to its case. */
  apply(msg: M, caseKey: string | undefined): Promise<void>;
}

/**
 * The case registry's partitioning: resolve each message's case in its lane, then apply it in its
 * case's queue (see the module comment). `handle` resolves when the message is applied (or refused);
 * it rejects with the transition's error (the SDK then redelivers the message).
 */
export class CasePartitions<M> {
  readonly #steps: PartitionSteps<M>;
  readonly #lanes = new KeyedSerial();
  readonly #cases = new KeyedSerial();

  constructor(steps: PartitionSteps<M>) {
    this.#steps = steps;
  }

  handle(msg: M): Promise<void> {
    let applied!: Promise<void>;
    const queued = this.#lanes.run(this.#steps.lane(msg), async () => {
      const key = await this.#steps.caseKey(msg);
      // Queued while the lane is held: the case's queue keeps the lane's order.
      applied = this.#cases.run(this.#steps.queueOf(msg, key), () => this.#steps.apply(msg, key));
    });
    return queued.then(() => applied);
  }

  /** Messages queued or running on a case. */
  queuedOn(queue: string): number {
    return this.#cases.queued(queue);
  }
}
