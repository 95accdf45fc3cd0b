/**
 * The changes a KV follow ({@link KvReader.follow}) missed while its connection was down (issue 16): the change notices
 * are core NATS messages, lost with the connection, so another writer's change made meanwhile would never reach the
 * follower. At a disconnect this notes the stream sequence after the last change the follow saw; at the reconnect it
 * reads every entry stored since (direct gets from that sequence, as far as the stream's last when it starts) and hands
 * each key to the follow's re-reads. Cost: one direct get per change stored while down (the follower's own included).
 */
import type { NatsConnection, Status } from '@nats-io/transport-node';
import { LiaisonError } from '../errors.ts';

/** How {@link MissedChanges} reads and reports. */
export interface MissedChangesOptions {
  /** Every entry stored from sequence `from` on (key and revision), in stream order. */
  scan(from: number): AsyncIterable<{ key: string; revision: number }>;
  /** A change to re-read (the follow's queue of changed keys). */
  changed(key: string, revision: number): void;
  /** Runs the read of the missed changes (a ReadGate's `readAcross`: cut by another drop, it is read again at the reconnect). */
  reread?<T>(what: string, read: () => Promise<T>): Promise<T>;
  /** The read failed otherwise (the gap is kept: read again at the next reconnect). */
  onError?(err: LiaisonError): void;
  /** Named in a failure. */
  bucket: string;
}

/** Follows a connection's drops for one KV follow; see the module comment. */
export class MissedChanges {
  readonly #o: MissedChangesOptions;
  readonly #status: AsyncIterable<Status> & { stop?: () => void };
  /** The highest revision the follow saw (from its scan, the notices, the re-reads). */
  #seen = 0;
  /** The first sequence whose notice may have been lost (set at a disconnect, cleared once read). */
  #gapFrom: number | undefined;
  /** Disconnects so far: a drop during a catch-up leaves the gap open for another round. */
  #drops = 0;
  #catching = false;
  #stopped = false;

  constructor(nc: NatsConnection, o: MissedChangesOptions) {
    this.#o = o;
    this.#status = nc.status();
    void this.#follow();
  }

  /** The follow saw the change at `revision`. */
  saw(revision: number): void {
    if (revision > this.#seen) this.#seen = revision;
  }

  /** Stop following the connection (a catch-up in progress reports nothing more). */
  stop(): void {
    this.#stopped = true;
    this.#status.stop?.();
  }

  async #follow(): Promise<void> {
    for await (const s of this.#status) {
      if (this.#stopped) return;
      if (s.type === 'disconnect') {
        this.#drops++;
        this.#gapFrom = Math.min(this.#gapFrom ?? Infinity, this.#seen + 1);
      } else if (s.type === 'reconnect') void this.#catchUp();
    }
  }

  /** Read the changes since the gap's start, in rounds until no drop came during one. */
  async #catchUp(): Promise<void> {
    if (this.#catching) return;
    this.#catching = true;
    try {
      while (this.#gapFrom !== undefined && !this.#stopped) {
        const from = this.#gapFrom;
        const drops = this.#drops;
        await this.#readFrom(from);
        if (this.#drops === drops) this.#gapFrom = undefined;
      }
    } catch (err) {
      if (!this.#stopped) this.#o.onError?.(err instanceof LiaisonError ? err : new LiaisonError('ERR_EXCHANGE', `cannot read the changes of ${this.#o.bucket} made while the connection was down: ${String(err)}`));
    } finally {
      this.#catching = false;
    }
  }

  async #readFrom(from: number): Promise<void> {
    const read = async () => {
      for await (const { key, revision } of this.#o.scan(from)) {
        if (this.#stopped) return;
        this.saw(revision);
        this.#o.changed(key, revision);
      }
    };
    await (this.#o.reread ? this.#o.reread(`${this.#o.bucket} changes from sequence ${from}`, read) : read());
  }
}
