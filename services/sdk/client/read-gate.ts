/**
 * Reads that follow the connection (issue 16), as {@link RecordWriter} writes do with `failOnDisconnect`: a read whose
 * answer is still awaited when the connection drops fails at once ("connection lost") instead of waiting out nats.js's
 * request timeout (its answer went to the connection just lost and will not come); a read asked for while the
 * connection is down starts once it is back (nats.js may drop a request published meanwhile).
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
      const drop = (server: string) => reject(new LiaisonError(this.#code, `connection lost (${server}) before the exchange answered the read of ${what}: read it again`, { key: what }));
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

  /** Stop following the connection: reads waiting for the reconnect start now. */
  close(): void {
    this.#status.stop?.();
    this.#release();
  }
}
