/**
 * The leaf's forwarder: republishes the outbox to the exchange, in outbox order, each copy with its original subject,
 * signed envelope and NATS headers (the same Nats-Msg-Id, so the exchange's duplicate window drops a copy sent
 * twice), on a connection of the agency's OWN NATS user — the exchange checks every forwarded copy against the
 * agency's policy-compiled permissions exactly as a direct send.
 *
 * Why not have the exchange source the outbox (JetStream `sources` across domains)? A sourced copy is written into
 * the exchange's streams by the exchange's own JetStream, past the agency user's publish permissions: whatever the
 * agency put in its outbox (a forged sender token, a type it may not send, a tier above its right) would be stored.
 * The leaf is the agency's machine; only the broker's per-publish check bounds it (DESIGN.md, trust boundary 1).
 *
 * Order and once: a window of copies is published in order on one connection that never reconnects by itself
 * (`reconnect: false`), so what the exchange stored of a window is a prefix of it; the cursor advances past a copy
 * only once the exchange acknowledged it (stored or duplicate) or refused it for good (Permissions Violation: set
 * aside, counted, never retried). On anything else the connection is dropped and the forwarder starts again at
 * the first unacknowledged copy; copies the exchange had stored come back `duplicate`.
 */
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { AsyncPublisher } from '../sdk/client/publisher.ts';
import { natsTlsOptions } from '../sdk/client/nats-tls.ts';
import { pause, refusedForGood, republish, type RepublishOutcome } from '../sdk/client/republish.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import { ForwarderCursor, OUTBOX_STREAM } from './outbox.ts';

/** What the forwarder did so far. */
export interface ForwarderStats {
  /** Copies the exchange stored. */
  forwarded: number;
  /** Copies the exchange already had (a resend after a lost acknowledgement). */
  duplicates: number;
  /** Copies the exchange refused (Permissions Violation): set aside, never retried. */
  refused: number;
  /** Times the forwarder dropped its connection and started again from its cursor. */
  restarts: number;
  /** True while connected to the exchange. */
  online: boolean;
  /** The next outbox sequence to forward. */
  nextSeq: number;
  /** The last failure, for status and logs. */
  lastError?: string;
}

/** Options for {@link Forwarder.start}. */
export interface ForwarderOptions {
  agencyId: string;
  /** Connection to the leaf (its own JetStream domain holds the outbox). */
  local: NatsConnection;
  /** The exchange's client URLs (AGENCY_DIR/agency.json). */
  servers: string[];
  /** The agency's `.creds` (its own NATS user). */
  creds: Uint8Array;
  /** The federation CA (PEM) the exchange is verified with; undefined: plain TCP, loopback only. */
  ca?: string;
  /** Copies published before waiting for their acknowledgements (default 256). */
  window?: number;
  /** How long to wait for the exchange's acknowledgement of a copy (default 10 s). */
  ackTimeoutMs?: number;
  /** Pause between attempts to reach the exchange (default 1 s). */
  retryMs?: number;
  logger?: Logger;
}


/** Forwards the outbox to the exchange until stopped (see the file comment). */
export class Forwarder {
  readonly stats: ForwarderStats = { forwarded: 0, duplicates: 0, refused: 0, restarts: 0, online: false, nextSeq: 1 };
  readonly #o: Required<Pick<ForwarderOptions, 'window' | 'ackTimeoutMs' | 'retryMs'>> & ForwarderOptions;
  readonly #logger: Logger;
  readonly #cursor: ForwarderCursor;
  readonly #abort = new AbortController();
  #hub: NatsConnection | undefined;
  #loop: Promise<void> = Promise.resolve();
  readonly #waiters = new Set<() => void>();

  private constructor(o: ForwarderOptions, cursor: ForwarderCursor) {
    this.#o = { window: 256, ackTimeoutMs: 10_000, retryMs: 1_000, ...o };
    this.#logger = (o.logger ?? silentLogger()).child({ component: 'leaf-forwarder' });
    this.#cursor = cursor;
  }

  /** Open the cursor and start forwarding in the background. */
  static async start(o: ForwarderOptions): Promise<Forwarder> {
    const f = new Forwarder(o, await ForwarderCursor.open(o.local));
    f.stats.nextSeq = await f.#cursor.get();
    f.#loop = f.#run();
    return f;
  }

  /** Resolves once every copy in the outbox up to now was forwarded or set aside (or `timeoutMs` passed: false). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const info = await (await jetstreamManager(this.#o.local)).streams.info(OUTBOX_STREAM);
      if (this.stats.nextSeq > info.state.last_seq) return true;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#waiters.add(() => (clearTimeout(t), r()));
      });
    }
    return false;
  }

  /** Stop forwarding (a window in flight is abandoned; its copies are sent again at the next start). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#hub?.close().catch(() => undefined);
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        this.#hub = await this.#connectHub();
        this.stats.online = true;
        await this.#forward(this.#hub, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.stats.lastError = (err as Error).message;
        this.#logger.debug({ err: this.stats.lastError }, 'exchange not reachable or a copy unacknowledged; retrying from the cursor');
      } finally {
        this.stats.online = false;
        await this.#hub?.close().catch(() => undefined);
        this.#hub = undefined;
      }
      if (!signal.aborted) {
        this.stats.restarts++;
        await pause(this.#o.retryMs, signal);
      }
    }
  }

  async #connectHub(): Promise<NatsConnection> {
    const auth = this.#o.creds;
    return await connect({
      servers: this.#o.servers,
      ...natsTlsOptions(this.#o.ca, this.#o.servers),
      authenticator: credsAuthenticator(auth),
      inboxPrefix: inboxPrefix(this.#o.agencyId),
      name: `${this.#o.agencyId}-leaf-forwarder`,
      // Never reconnect by itself: copies buffered across a reconnect could be stored after a lost earlier one.
      reconnect: false,
      timeout: 5_000,
      noAsyncTraces: true,
    });
  }

  /** Forward windows from the cursor until the connection fails (throws) or the forwarder stops. */
  async #forward(hub: NatsConnection, signal: AbortSignal): Promise<void> {
    const publisher = new AsyncPublisher(hub, inboxPrefix(this.#o.agencyId));
    let current: { stop(): void } | undefined;
    const halt = () => current?.stop();
    void hub.closed().then(halt);
    signal.addEventListener('abort', halt, { once: true });
    try {
      const consumer = await jetstream(this.#o.local).consumers.get(OUTBOX_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.stats.nextSeq });
      while (!signal.aborted) {
        const batch = await consumer.fetch({ max_messages: this.#o.window, expires: 1_000 });
        current = batch;
        const window: JsMsg[] = [];
        for await (const m of batch) window.push(m);
        current = undefined;
        if (hub.isClosed()) throw new LiaisonError('ERR_CONNECT', 'the connection to the exchange closed');
        if (window.length === 0 || signal.aborted) continue;
        const outcomes = await Promise.all(window.map((m) => this.#publish(publisher, m)));
        await this.#settle(window, outcomes);
      }
    } finally {
      signal.removeEventListener('abort', halt);
      publisher.close();
    }
  }

  #publish(publisher: AsyncPublisher, m: JsMsg): Promise<RepublishOutcome> {
    return republish(publisher, m.subject, m.data, m.headers ?? natsHeaders(), this.#o.ackTimeoutMs);
  }

  /**
   * Advance the cursor over the acknowledged (or refused) prefix of a window; on the first other failure, keep the
   * cursor there and throw, so the connection is dropped and the rest is sent again.
   */
  async #settle(window: JsMsg[], outcomes: RepublishOutcome[]): Promise<void> {
    let failure: LiaisonError | undefined;
    for (let i = 0; i < window.length && !failure; i++) {
      const m = window[i]!;
      const r = outcomes[i]!;
      if ('ok' in r) {
        if (r.ok.duplicate) this.stats.duplicates++;
        else this.stats.forwarded++;
      } else if (refusedForGood(r)) {
        this.stats.refused++;
        this.#logger.warn({ subject: m.subject, seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id') }, 'the exchange refused a copy from the outbox (Permissions Violation): set aside');
      } else {
        failure = r.err;
        break;
      }
      this.stats.nextSeq = m.seq + 1;
    }
    await this.#cursor.set(this.stats.nextSeq);
    for (const w of this.#waiters) w();
    this.#waiters.clear();
    if (failure) throw failure;
  }
}
