import { headers as natsHeaders, nuid, type NatsConnection, type Status, type Subscription } from '@nats-io/transport-node';
import { LiaisonError, type ErrorCode } from '../errors.ts';

/** JetStream's error code for a write whose expected last subject sequence did not match. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** What a {@link RecordWriter}'s failures are reported as (default: the handled record's). */
export interface RecordWriterOptions {
  /** Error code of a failed write (default ERR_HANDLED_RECORD). */
  code?: ErrorCode;
  /** The bucket named when no stream stores the subject (default "handled bucket"). */
  what?: string;
  /**
   * Follow the connection: every write published and not yet acknowledged fails as soon as the connection is lost
   * (status `disconnect`), as a timeout would but without waiting it out (its PubAck went to the connection just
   * lost and will not come); writes asked for while it is down are published once it is back (nats.js drops what
   * is published between a disconnect and the next dial); one that fails while held (its timeout passed) is never
   * sent. Only for a caller that retries or re-reads a write whose fate is unknown (the handled record: a claim is
   * claimed again and its own entry recognised, a floor is re-read on redelivery and rewritten by the next batch; the
   * case registry and the centre: compare-and-set writes whose message is redelivered and finds its own change by its
   * id on the record read again). Default false: a write fails at its timeout.
   */
  failOnDisconnect?: boolean;
}

interface Pending {
  subject: string;
  deadline: number;
  resolve: (seq: number | 'conflict') => void;
  reject: (err: LiaisonError) => void;
}

/**
 * Compare-and-set writes of KV entries as plain JetStream publishes whose PubAcks arrive on one
 * wildcard subscription in the agency's own inbox (as AsyncPublisher does for sends): no request
 * subscription, timer or error object per write, so the handled record's claim per message
 * and floor per batch stay cheap. A write resolves with the entry's new revision, or `'conflict'` when the key's last
 * revision was not the expected one.
 */
export class RecordWriter {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, Pending>();
  readonly #sweep: ReturnType<typeof setInterval>;
  /** Writes of this turn of the event loop, published together (one socket write, not one per write). */
  #queued: { subject: string; value: Uint8Array; expected: number | undefined; remove: boolean; token: string }[] = [];
  #next = 0;
  readonly #code: ErrorCode;
  readonly #what: string;
  /** The connection's status events, followed when pending writes fail on a disconnect. */
  #status: (AsyncIterable<Status> & { stop?: () => void }) | undefined;
  /** Between a disconnect and the reconnect (followed connections only): queued writes wait. */
  #offline = false;

  constructor(nc: NatsConnection, inboxPrefix: string, o: RecordWriterOptions = {}) {
    this.#nc = nc;
    this.#code = o.code ?? 'ERR_HANDLED_RECORD';
    this.#what = o.what ?? 'handled bucket';
    this.#prefix = `${inboxPrefix}.kvack.${nuid.next()}`;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, { callback: (err, msg) => (err ? undefined : this.#settle(msg.subject.slice(this.#prefix.length + 1), msg.headers?.code, msg.string())) });
    this.#sweep = setInterval(() => this.#expire(), 250);
    this.#sweep.unref();
    if (o.failOnDisconnect) void this.#follow((this.#status = nc.status()));
  }

  /**
   * Until the writer or its connection closes: at a disconnect every write published and not acknowledged fails
   * ("connection lost"), and writes wait to be published until the reconnect.
   */
  async #follow(status: AsyncIterable<Status>): Promise<void> {
    for await (const s of status) {
      if (s.type === 'disconnect') {
        this.#offline = true;
        const waiting = new Set(this.#queued.map((q) => q.token));
        for (const [token, p] of this.#pending) {
          if (waiting.has(token)) continue;
          this.#pending.delete(token);
          p.reject(new LiaisonError(this.#code, `connection lost (${s.server}) before the exchange acknowledged ${p.subject}: it may or may not be stored`, { subject: p.subject }));
        }
      } else if (s.type === 'reconnect') {
        this.#offline = false;
        if (this.#queued.length > 0) this.#publishQueued();
      }
    }
  }

  /** Write `value` at `subject` if the subject's last revision is `expected` (0: no entry yet; undefined: whatever is there). */
  put(subject: string, value: Uint8Array, expected: number | undefined, timeoutMs = 10_000): Promise<number | 'conflict'> {
    return this.#write(subject, value, expected, false, timeoutMs);
  }

  /**
   * Remove the entry at `subject` if its last revision is `expected` (compare-and-set): a removal marker (`KV-Operation:
   * DEL`, no value) as nats.js KV's delete writes it, which readers take as no entry. The marker's revision, or `'conflict'`.
   */
  remove(subject: string, expected: number, timeoutMs = 10_000): Promise<number | 'conflict'> {
    return this.#write(subject, new Uint8Array(0), expected, true, timeoutMs);
  }

  #write(subject: string, value: Uint8Array, expected: number | undefined, remove: boolean, timeoutMs: number): Promise<number | 'conflict'> {
    const token = (this.#next++).toString(36);
    return new Promise((resolve, reject) => {
      this.#pending.set(token, { subject, deadline: Date.now() + timeoutMs, resolve, reject });
      if (this.#queued.length === 0) setImmediate(() => this.#publishQueued());
      this.#queued.push({ subject, value, expected, remove, token });
    });
  }

  #publishQueued(): void {
    if (this.#offline) return; // published at the reconnect
    const queued = this.#queued;
    this.#queued = [];
    for (const q of queued) {
      // Failed while held (its timeout passed, or the writer closed): its caller was told so and may retry; never sent now.
      if (!this.#pending.has(q.token)) continue;
      const h = q.expected === undefined && !q.remove ? undefined : natsHeaders();
      if (q.expected !== undefined) h?.set('Nats-Expected-Last-Subject-Sequence', String(q.expected));
      if (q.remove) h?.set('KV-Operation', 'DEL');
      try {
        this.#nc.publish(q.subject, q.value, { ...(h && { headers: h }), reply: `${this.#prefix}.${q.token}` });
      } catch (err) {
        const p = this.#pending.get(q.token);
        this.#pending.delete(q.token);
        p?.reject(new LiaisonError(this.#code, `write ${q.subject}: ${(err as Error).message}`, { subject: q.subject }, { cause: err }));
      }
    }
  }

  #settle(token: string, status: number | undefined, text: string): void {
    const p = this.#pending.get(token);
    if (!p) return;
    this.#pending.delete(token);
    if (status === 503) return p.reject(new LiaisonError(this.#code, `no stream stores ${p.subject} (is the ${this.#what} provisioned?)`, { subject: p.subject }));
    let ack: { seq?: number; error?: { err_code?: number; description?: string } };
    try {
      ack = JSON.parse(text) as typeof ack;
    } catch {
      return p.reject(new LiaisonError(this.#code, `unreadable acknowledgement for ${p.subject}`, { subject: p.subject }));
    }
    if (ack.error && WRONG_LAST_SEQUENCE.has(ack.error.err_code ?? 0)) return p.resolve('conflict');
    if (ack.error || !ack.seq) return p.reject(new LiaisonError(this.#code, `JetStream refused ${p.subject}: ${ack.error?.description ?? 'no sequence'}`, { subject: p.subject }));
    p.resolve(ack.seq);
  }

  #expire(): void {
    const now = Date.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(token);
      p.reject(new LiaisonError(this.#code, `no acknowledgement from the exchange for ${p.subject}`, { subject: p.subject }));
    }
  }

  /** Stop: pending writes fail. */
  close(): void {
    clearInterval(this.#sweep);
    this.#status?.stop?.();
    this.#sub.unsubscribe();
    for (const p of this.#pending.values()) p.reject(new LiaisonError(this.#code, `closed before ${p.subject} was acknowledged`, { subject: p.subject }));
    this.#pending.clear();
  }
}
