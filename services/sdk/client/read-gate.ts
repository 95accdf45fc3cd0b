/**
 * Reads that follow the connection (issue 16), as {@link RecordWriter} writes do with `failOnDisconnect`: a read whose
 * answer is still awaited when the connection drops fails at once ("connection lost") instead of waiting out nats.js's
 * request timeout (its answer went to the connection just lost and will not come); a read asked for while the
 * connection is down starts once it is back (nats.js may drop a request published meanwhile). A read of several
 * requests (a scan of a bucket) fails whole at a drop, never with a partial answer (the request in flight at the drop
 * lost its answer: the rest of the scan ends there, failing by nats.js's timeout unseen). A read whose loss its caller
 * would not see (a watch re-reading a change) is asked again at the reconnect instead ({@link ReadGate.readAcross}).
 */
import type { NatsConnection, Status } from '@nats-io/transport-node';
import { LiaisonError, type ErrorCode } from '../errors.ts';

/** Runs reads so they fail at a disconnect and wait for the reconnect; see the module comment. */
export class ReadGate {
  readonly #code: ErrorCode;
  readonly #status: AsyncIterable<Status> & { stop?: () => void };
  /** Reads awaiting their answer: each fails when the connection drops. */
  readonly #inflight = new Set<(server: string) => void>();
  /** Reads asked for while the connection is down: started at the reconnect (or when the connection closes). */
  #waiting: (() => void)[] = [];
  #offline = false;
  #closed = false;
  /** The failures this gate made at a drop (told apart from the read's own failures by {@link readAcross}). */
  readonly #drops = new WeakSet<Error>();

  /** Follow `nc`'s status until it closes; failures carry `code`. */
  constructor(nc: NatsConnection, code: ErrorCode) {
    this.#code = code;
    this.#status = nc.status();
    void this.#follow();
  }

  async #follow(): Promise<void> {
    for await (const s of this.#status) {
      if (s.type === 'disconnect') {
        this.#offline = true;
        const dropped = [...this.#inflight];
        this.#inflight.clear();
        for (const drop of dropped) drop(s.server);
      } else if (s.type === 'reconnect') this.#release();
    }
    this.#closed = true;
    this.#release(); // closed: waiting reads run and fail as the closed connection makes them
  }

  #release(): void {
    this.#offline = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const go of waiting) go();
  }

  /** Run `read` (named `what` in a failure) once the connection is up; it fails at once if the connection drops first. */
  async read<T>(what: string, read: () => Promise<T>): Promise<T> {
    if (this.#offline) await new Promise<void>((go) => this.#waiting.push(go));
    return await new Promise<T>((resolve, reject) => {
      const drop = (server: string) => {
        const err = new LiaisonError(this.#code, `connection lost (${server}) before the exchange answered the read of ${what}: read it again`, { key: what });
        this.#drops.add(err);
        reject(err);
      };
      this.#inflight.add(drop);
      read().then(
        (v) => {
          this.#inflight.delete(drop);
          resolve(v);
        },
        (err: unknown) => {
          this.#inflight.delete(drop);
          reject(err as Error);
        },
      );
    });
  }

  /**
   * Run `read` as {@link read} does, but a drop does not fail it: it is asked again once the connection is back, as
   * often as the connection drops, until it is answered (or the gate is closed: then it runs once more and ends as that
   * read ends). For a read whose loss the caller would not see, such as a watch re-reading a changed entry.
   */
  async readAcross<T>(what: string, read: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await this.read(what, read);
      } catch (err) {
        if (this.#closed || !this.#drops.has(err as Error)) throw err;
      }
    }
  }

  /** Stop following the connection: reads waiting for the reconnect start now. */
  close(): void {
    this.#closed = true;
    this.#status.stop?.();
    this.#release();
  }
}
