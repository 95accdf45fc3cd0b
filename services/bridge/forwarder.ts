/**
 * One direction of a bridge (bridge design §5): pulls the export consumers of federation A with A's export user
 * and republishes each copy into federation B with B's import user — the SAME envelope bytes and NATS headers
 * (same Nats-Msg-Id, so B's duplicate window drops a copy sent twice), on the subject rewritten into B's namespace:
 * `liaison.v1.<tier>.<family>.<Type>.<sender>.<B>:<recipient>` in A becomes
 * `liaison.v1.<tier>.<family>.<Type>.<A>:<sender>.<recipient>` in B. B's broker checks every copy against the
 * import user's permissions (exactly the agreement's inbound flows), so the bridge can put nothing else there.
 *
 * Order and once, as the leaf's forwarder (services/edge/forwarder.ts): a window of one consumer is published in
 * order on one connection to B that never reconnects by itself; a copy is acknowledged in A only after B's PubAck
 * (stored or duplicate); a copy B refuses for good (Permissions Violation) is terminated in A and counted, never
 * retried; on any other failure the rest of the window is nak'ed (redelivered first, in order), the connections
 * are dropped and the link starts again. A stop lets the window in flight settle first.
 *
 * Why not JetStream sourcing or a leafnode link between the exchanges: a sourced copy is written into B's streams
 * by B's own JetStream, past any user's publish permissions; a core-NATS leafnode link has no store-and-forward
 * across an outage. This link is an ordinary client of each broker.
 */
import { readFileSync } from 'node:fs';
import type { JsMsg } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { agencyJetStream } from '../sdk/client/agency-js.ts';
import { natsTlsOptions } from '../sdk/client/nats-tls.ts';
import { AsyncPublisher } from '../sdk/client/publisher.ts';
import { pause, refusedForGood, republish, type RepublishOutcome } from '../sdk/client/republish.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { settleBy } from '../sdk/settle-by.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { parseMessageSubject, messageSubject } from '../sdk/subjects.ts';

/** One end of a link: a broker and the bridge user that acts there. */
export interface LinkEnd {
  federation: string;
  servers: string[];
  /** The federation CA (PEM); undefined: plain TCP, loopback only. */
  ca?: string;
  creds: Uint8Array;
  /**
   * Where the creds are kept (TRUST_DIR/bridges/<id>/…): read again at every connect, so the users `policy apply`
   * re-issues (refresh.ts) are picked up when the server closes the previous ones' connections.
   */
  credsFile?: string;
  /** The inbox prefix the user's permissions grant (`_INBOX_…`). */
  inbox: string;
}

/** Counters of one direction. */
export interface LinkStats {
  /** Copies B stored. */
  forwarded: number;
  /** Copies B already had (a resend after a lost acknowledgement). */
  duplicates: number;
  /** Copies B refused (Permissions Violation) or whose subject cannot be rewritten: terminated in A. */
  refused: number;
  /** Times the link dropped its connections and started again. */
  restarts: number;
  online: boolean;
  lastError?: string;
}

/** Options of {@link BridgeLink.start}. */
export interface LinkOptions {
  /** Where the export consumers are (A) and the export user. */
  from: LinkEnd;
  /** Where copies go (B) and the import user. */
  to: LinkEnd;
  /** A's export consumers (stream and durable name). */
  consumers: readonly { stream: string; name: string }[];
  /** A's export consumers as they are now (a policy apply changes them), asked again each time the link starts again. */
  currentConsumers?: () => Promise<readonly { stream: string; name: string }[]>;
  /** Copies pulled and published before waiting for their acknowledgements (default 128). */
  window?: number;
  /** How long to wait for B's acknowledgement of a copy (default 10 s). */
  ackTimeoutMs?: number;
  /** Pause between attempts (default 500 ms). */
  retryMs?: number;
  logger?: Logger;
}

/**
 * B's subject for a copy A exported: the recipient token must be `<B>:<agency>` (the export consumers' filter
 * guarantees it); undefined otherwise.
 */
export function importedSubject(subject: string, from: string, to: string): string | undefined {
  const s = parseMessageSubject(subject);
  const prefix = `${to}:`;
  if (!s || !s.recipient.startsWith(prefix) || s.sender.includes(':')) return undefined;
  return messageSubject({ ...s, sender: `${from}:${s.sender}`, recipient: s.recipient.slice(prefix.length) });
}


/** The creds in `file` now (or `fallback` when it cannot be read): for an authenticator called at each connect. */
export function currentCreds(file: string, fallback: Uint8Array): () => Uint8Array {
  return () => {
    try {
      return new Uint8Array(readFileSync(file));
    } catch {
      return fallback;
    }
  };
}

/** Connect a bridge user; never reconnects by itself (the link starts again from what is acknowledged). */
export async function connectEnd(end: LinkEnd, name: string): Promise<NatsConnection> {
  return await connect({
    servers: end.servers,
    ...natsTlsOptions(end.ca, end.servers),
    authenticator: credsAuthenticator(end.credsFile ? currentCreds(end.credsFile, end.creds) : end.creds),
    inboxPrefix: end.inbox,
    name,
    reconnect: false,
    timeout: 5_000,
    noAsyncTraces: true,
  });
}

/** What a stop waits beyond the acknowledgement timeout before closing a link's connections under it. */
const STOP_GRACE_MS = 2_000;

/** One running direction of a bridge (see the file comment). */
export class BridgeLink {
  readonly stats: LinkStats = { forwarded: 0, duplicates: 0, refused: 0, restarts: 0, online: false };
  readonly #o: Required<Pick<LinkOptions, 'window' | 'ackTimeoutMs' | 'retryMs'>> & LinkOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #loop: Promise<void> = Promise.resolve();
  #conns: NatsConnection[] = [];

  private constructor(o: LinkOptions) {
    this.#o = { window: 128, ackTimeoutMs: 10_000, retryMs: 500, ...o };
    this.#logger = (o.logger ?? silentLogger()).child({ component: 'bridge', from: o.from.federation, to: o.to.federation });
  }

  /** Start forwarding in the background. */
  static start(o: LinkOptions): BridgeLink {
    const link = new BridgeLink(o);
    link.#loop = link.#run();
    return link;
  }

  /**
   * Stop: the window in flight settles (acknowledged in A or nak'ed), then the connections close. Bounded: a window
   * still unsettled one acknowledgement timeout (+ {@link STOP_GRACE_MS}) after the stop has its connections closed
   * under it — A redelivers those copies after their ack wait, and B's duplicate window keeps a resend from counting twice.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    if ((await settleBy(this.#loop, Date.now() + this.#o.ackTimeoutMs + STOP_GRACE_MS)).state !== 'late') return;
    this.#logger.warn({ conns: this.#conns.length }, 'bridge link did not settle its window in time: connections closed');
    await Promise.all(this.#conns.map((c) => c.close().catch(() => undefined)));
    await settleBy(this.#loop, Date.now() + STOP_GRACE_MS);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        if (this.stats.restarts > 0 && this.#o.currentConsumers) this.#o.consumers = await this.#o.currentConsumers();
        const src = await connectEnd(this.#o.from, `bridge-export-${this.#o.from.federation}`);
        this.#conns.push(src);
        const dst = await connectEnd(this.#o.to, `bridge-import-${this.#o.to.federation}`);
        this.#conns.push(dst);
        this.stats.online = true;
        await this.#forward(src, dst, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.stats.lastError = (err as Error).message;
        this.#logger.debug({ err: this.stats.lastError }, 'bridge link down or a copy unacknowledged; starting again');
      } finally {
        this.stats.online = false;
        await Promise.all(this.#conns.map((c) => c.close().catch(() => undefined)));
        this.#conns = [];
      }
      if (!signal.aborted) {
        this.stats.restarts++;
        await pause(this.#o.retryMs, signal);
      }
    }
  }

  /** Every export consumer at once, one window at a time each, until a connection fails (throws) or the link stops. */
  async #forward(src: NatsConnection, dst: NatsConnection, signal: AbortSignal): Promise<void> {
    const publisher = new AsyncPublisher(dst, this.#o.to.inbox);
    const failed = new AbortController();
    const halt = () => failed.abort();
    void src.closed().then(halt);
    void dst.closed().then(halt);
    try {
      const js = agencyJetStream(src);
      const loops = this.#o.consumers.map(async (c) => {
        const consumer = await js.consumers.get(c.stream, c.name);
        while (!signal.aborted && !failed.signal.aborted) {
          const window: JsMsg[] = [];
          for await (const m of await consumer.fetch({ max_messages: this.#o.window, expires: 1_000 })) window.push(m);
          if (window.length === 0) continue;
          const outcomes = await Promise.all(window.map((m) => this.#publish(publisher, m)));
          await this.#settle(src, window, outcomes);
        }
      });
      const results = await Promise.allSettled(loops.map((l) => l.catch((err: unknown) => (halt(), Promise.reject(err)))));
      const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (bad) throw bad.reason;
      if (failed.signal.aborted && !signal.aborted) throw new LiaisonError('ERR_CONNECT', 'a bridge connection closed');
    } finally {
      publisher.close();
    }
  }

  #publish(publisher: AsyncPublisher, m: JsMsg): Promise<RepublishOutcome> {
    const subject = importedSubject(m.subject, this.#o.from.federation, this.#o.to.federation);
    if (!subject) return Promise.resolve({ err: new LiaisonError('ERR_PERMISSION_DENIED', `${m.subject} is not a copy for ${this.#o.to.federation}`, { subject: m.subject }) });
    return republish(publisher, subject, m.data, m.headers ?? natsHeaders(), this.#o.ackTimeoutMs);
  }

  /**
   * In window order: acknowledge in A what B stored (or had), terminate what B refused for good; at the first other
   * failure nak it and the rest (redelivered first, in order) and throw, so the link starts again.
   */
  async #settle(src: NatsConnection, window: JsMsg[], outcomes: RepublishOutcome[]): Promise<void> {
    let failure: LiaisonError | undefined;
    for (let i = 0; i < window.length; i++) {
      const m = window[i]!;
      const r = outcomes[i]!;
      if (failure) {
        m.nak();
        continue;
      }
      if ('ok' in r) {
        if (r.ok.duplicate) this.stats.duplicates++;
        else this.stats.forwarded++;
        m.ack();
      } else if (refusedForGood(r)) {
        this.stats.refused++;
        this.#logger.warn({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') }, 'the peer refused a bridged copy (Permissions Violation): terminated');
        m.term();
      } else {
        failure = r.err;
        m.nak();
      }
    }
    await src.flush().catch(() => undefined);
    if (failure) throw failure;
  }
}
