import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { systemClock, type Clock } from '../clock.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../envelope/codec.ts';
import type { OpenContext, ReceivedMessage } from '../envelope/open.ts';
import { sealMessage, type SealedMessage, type SendOptions } from '../envelope/seal.ts';
import { asLiaisonError, ERROR_CODES, LiaisonError, type ErrorCode } from '../errors.ts';
import { silentLogger, type Logger } from '../logging.ts';
import { compileConsumers } from '../policy/index.ts';
import { loadCatalog, type Catalog } from '../schema/index.ts';
import { inboxPrefix, replaySubject } from '../subjects.ts';
import { handleDelivery, runConsumer, SeenIds, type Handler, type ReceiveStats, type Rejection } from './consume.ts';
import { DirectoryWatcher } from './directory.ts';
import { AsyncPublisher } from './publisher.ts';
import { request as rpcRequest, serve as rpcServe, type RequestHandler, type RpcHost, type Serving } from './rpc.ts';
import { loadAgencyDir, type AgencyIdentity } from './identity.ts';
import { typeCatalogOf } from './type-catalog.ts';

/** How to connect an agency. */
export interface ConnectOptions {
  /** An AGENCY_DIR written by `liaison trust enrol`. */
  agencyDir?: string;
  /** Or an identity already loaded. */
  identity?: AgencyIdentity;
  /** Override the servers in agency.json. */
  servers?: string[];
  logger?: Logger;
  clock?: Clock;
  catalog?: Catalog;
  /** Reconnect on connection loss (default true). */
  reconnect?: boolean;
  /** Which replica of this agency's services this connection is (default 1; see the policy's `replicas`). */
  replica?: number;
}

/** The outcome of a send: one entry per published tier copy. */
export interface SendReceipt {
  id: string;
  type: string;
  copies: { tier: string; subject: string; recipients: string[]; stream: string; seq: number; duplicate: boolean }[];
}

/** Options of {@link LiaisonClient.consume}. */
export interface ConsumeOptions {
  /** Only these short type names (default: every type the agency receives). */
  types?: string[];
  onReject?: (r: Rejection) => void;
}

/**
 * An agency's connection to the exchange: sends signed, projected copies and consumes its own
 * durable consumers through the verifying receive pipeline.
 */
export class LiaisonClient {
  readonly id: string;
  readonly identity: AgencyIdentity;
  readonly nc: NatsConnection;
  readonly catalog: Catalog;
  readonly replica: number;
  readonly stats: ReceiveStats = { received: 0, duplicates: 0, own: 0, handlerErrors: 0, rejected: {} };
  readonly #js: JetStreamClient;
  readonly #codec: EnvelopeCodec;
  readonly #publisher: AsyncPublisher;
  readonly #directory: DirectoryWatcher;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #seen = new SeenIds();
  readonly #aborts: AbortController[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #services: Serving[] = [];

  private constructor(identity: AgencyIdentity, nc: NatsConnection, catalog: Catalog, directory: DirectoryWatcher, logger: Logger, clock: Clock, replica: number) {
    this.id = identity.id;
    this.replica = replica;
    this.identity = identity;
    this.nc = nc;
    this.catalog = catalog;
    this.#js = jetstream(nc);
    this.#codec = createEnvelopeCodec(catalog.envelopeTypes);
    this.#publisher = new AsyncPublisher(nc, inboxPrefix(identity.id));
    this.#directory = directory;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Connect an agency: NATS with its own .creds and inbox prefix, then fetch and verify the federation directory. */
  static async connect(opts: ConnectOptions): Promise<LiaisonClient> {
    const identity = opts.identity ?? (opts.agencyDir ? await loadAgencyDir(opts.agencyDir) : undefined);
    if (!identity) throw new LiaisonError('ERR_USAGE', 'LiaisonClient.connect needs agencyDir or identity');
    const logger = (opts.logger ?? silentLogger()).child({ agency: identity.id });
    const catalog = opts.catalog ?? loadCatalog();
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers ?? identity.servers,
        authenticator: credsAuthenticator(identity.creds),
        inboxPrefix: inboxPrefix(identity.id),
        name: identity.id,
        reconnect: opts.reconnect ?? true,
        maxReconnectAttempts: -1,
        // No pre-built Error objects with stack traces per request (they dominated request profiles);
        // failures still carry a typed LiaisonError from the call site.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONNECT', `agency ${identity.id} cannot connect to ${(opts.servers ?? identity.servers).join(',')}`);
    }
    try {
      const directory = await DirectoryWatcher.start({ nc, root: identity.root, catalog: typeCatalogOf(catalog), logger });
      return new LiaisonClient(identity, nc, catalog, directory, logger, opts.clock ?? systemClock, opts.replica ?? 1);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** The context the receive pipeline uses, from the latest verified directory. */
  openContext(): OpenContext {
    const fed = this.#directory.current();
    return { catalog: this.catalog, codec: this.#codec, policy: fed.policy, keys: fed.keys, self: this.id, clock: this.#clock };
  }

  /** The policy this client enforces (from the verified directory). */
  get policy() {
    return this.#directory.current().policy;
  }

  /**
   * Seal a message without sending it: validate the body, let the policy plan the copies (throws the
   * refusing rule), and sign one projected copy per tier. {@link send} is `publishSealed(seal(…))`.
   */
  seal(type: string, body: unknown, opts: SendOptions = {}): SealedMessage {
    return sealMessage(
      {
        catalog: this.catalog,
        codec: this.#codec,
        policy: this.policy,
        sender: this.id,
        key: this.identity.key,
        clock: this.#clock,
        maxPayload: this.nc.info?.max_payload,
      },
      type,
      body,
      opts,
    );
  }

  /** Publish every copy of a sealed message to JetStream (de-duplicated by id and tier); resolves when all are stored. */
  async publishSealed(sealed: SealedMessage): Promise<SendReceipt> {
    const acks = await Promise.all(
      sealed.copies.map((c) => {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(c.headers)) h.set(k, v);
        return this.#publisher.publish(c.subject, c.data, h);
      }),
    );
    const copies = sealed.copies.map((c, i) => ({
      tier: c.tier,
      subject: c.subject,
      recipients: c.recipients,
      stream: acks[i]!.stream,
      seq: acks[i]!.seq,
      duplicate: acks[i]!.duplicate,
    }));
    this.#logger.debug({ msgId: sealed.id, type: sealed.type, copies: copies.length }, 'sent');
    return { id: sealed.id, type: sealed.type, copies };
  }

  /**
   * Send a message: validate the body, let the policy plan the copies (throws the refusing rule),
   * sign one projected copy per tier and publish each to JetStream (de-duplicated by id and tier).
   */
  async send(type: string, body: unknown, opts: SendOptions = {}): Promise<SendReceipt> {
    return await this.publishSealed(this.seal(type, body, opts));
  }

  /** The durable consumers the exchange provisioned for this agency (from the policy). */
  consumerSpecs(types?: string[]) {
    return compileConsumers(this.policy, typeCatalogOf(this.catalog)).filter(
      (c) => c.agency === this.id && c.replica === this.replica && (!types || types.includes(c.type)),
    );
  }

  /**
   * Consume every durable consumer of this agency: each copy goes through the receive pipeline,
   * verified messages to `handler`, rejections to `onReject` and the quarantine subject.
   */
  async consume(handler: Handler, opts: ConsumeOptions = {}): Promise<void> {
    const specs = this.consumerSpecs(opts.types);
    for (const spec of specs) {
      const consumer = await this.#js.consumers.get(spec.stream, spec.name);
      const ac = new AbortController();
      this.#aborts.push(ac);
      const loop = runConsumer(this.#loopOptions(handler, opts), consumer, ac.signal).catch((err) => {
        if (!ac.signal.aborted) this.#logger.error({ err, consumer: spec.name }, 'consumer loop ended');
      });
      this.#loops.push(loop);
    }
  }

  /** Fetch up to `max` pending copies from one consumer and process them (CLI `tail`, tests). */
  async drain(handler: Handler, opts: ConsumeOptions & { max?: number; expiresMs?: number } = {}): Promise<number> {
    let n = 0;
    for (const spec of this.consumerSpecs(opts.types)) {
      const consumer = await this.#js.consumers.get(spec.stream, spec.name);
      const batch = await consumer.fetch({ max_messages: opts.max ?? 100, expires: opts.expiresMs ?? 1_000 });
      for await (const m of batch) {
        await handleDelivery(this.#loopOptions(handler, opts), m);
        n++;
      }
    }
    return n;
  }

  #loopOptions(handler: Handler, opts: ConsumeOptions) {
    return {
      nc: this.nc,
      self: this.id,
      context: () => this.openContext(),
      handler,
      onReject: opts.onReject,
      seen: this.#seen,
      stats: this.stats,
      logger: this.#logger,
    };
  }

  /**
   * Ask the exchange to re-deliver this agency's durable consumers from the given stream sequences
   * (consumer name → first sequence), e.g. a restarted service replaying the tail after its snapshot.
   * Call it before {@link consume}. Only the agency's own consumers can be reset.
   */
  async replayFrom(positions: Record<string, number>): Promise<string[]> {
    let text: string;
    try {
      text = (await this.nc.request(replaySubject(this.id), JSON.stringify({ positions }), { timeout: 10_000 })).string();
    } catch (err) {
      throw asLiaisonError(err, 'ERR_EXCHANGE', 'the exchange did not answer the replay request');
    }
    const reply = JSON.parse(text) as { ok: boolean; reset?: string[]; error?: string };
    if (!reply.ok) {
      const code = String(reply.error).split(':')[0]!;
      throw new LiaisonError(code in ERROR_CODES ? (code as ErrorCode) : 'ERR_EXCHANGE', String(reply.error));
    }
    return reply.reset ?? [];
  }

  /**
   * Send a signed request to the agency that serves `type` (e.g. a DocumentCheckRequest to the
   * registry) and return its verified reply, bound to this request by its hash.
   */
  async request(type: string, body: unknown, opts: SendOptions & { timeoutMs?: number } = {}): Promise<ReceivedMessage> {
    return await rpcRequest(this.#rpcHost(), type, body, opts);
  }

  /** Serve request types this agency's roles list under `serve`; handlers answer with a type and body. */
  async serve(handlers: Record<string, RequestHandler>, meta: { name?: string; version?: string } = {}): Promise<Serving> {
    const serving = await rpcServe(this.#rpcHost(), handlers, meta);
    this.#services.push(serving);
    return serving;
  }

  #rpcHost(): RpcHost {
    return {
      id: this.id,
      nc: this.nc,
      catalog: this.catalog,
      policy: () => this.policy,
      openContext: () => this.openContext(),
      seal: (type, body, opts) => this.seal(type, body, opts),
      logger: this.#logger,
    };
  }

  /** Stop consuming and close the connection (pending acks are flushed first). */
  async close(): Promise<void> {
    for (const s of this.#services) await s.stop().catch(() => undefined);
    for (const ac of this.#aborts) ac.abort();
    // Consumer loops end when their pull closes; never let a stuck one hold the shutdown.
    await Promise.race([Promise.allSettled(this.#loops), new Promise((r) => setTimeout(r, 2_000).unref())]);
    this.#directory.stop();
    this.#publisher.close();
    if (this.nc.isClosed()) return;
    // drain() waits for a reconnect that may never come (a revoked agency is refused): bound it, then close.
    const drained = this.nc.drain().then(
      () => true,
      () => false,
    );
    const inTime = await Promise.race([drained, new Promise<boolean>((r) => setTimeout(() => r(false), 3_000).unref())]);
    if (!inTime && !this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}
