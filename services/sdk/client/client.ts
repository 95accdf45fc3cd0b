import type { JetStreamClient } from '@nats-io/jetstream';
import { agencyJetStream } from './agency-js.ts';
import { connect, credsAuthenticator, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { systemClock, type Clock } from '../clock.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../envelope/codec.ts';
import type { OpenContext, ReceivedMessage } from '../envelope/open.ts';
import { sealMessage, sealMessageWith, type SealContext, type SealedMessage, type SendOptions } from '../envelope/seal.ts';
import { msgIdTagKey } from '../envelope/msg-id-tag.ts';
import { asLiaisonError, ERROR_CODES, isLiaisonError, LiaisonError, type ErrorCode } from '../errors.ts';
import { directoryOfPing } from './status-ping.ts';
import { silentLogger, type Logger } from '../logging.ts';
import { canSend, compileConsumers } from '../policy/index.ts';
import { loadCatalog, type Catalog } from '../schema/index.ts';
import { STATUS_PING_SUBJECT, inboxPrefix, parseMessageSubject, replaySubject, statusSubject } from '../subjects.ts';
import { HandledRecord } from './handled.ts';
import { handleDelivery, runConsumer, SeenIds, type Handler, type ReceiveStats, type Rejection } from './consume.ts';
import { checkConcurrency, runConcurrentConsumer } from './concurrent-consume.ts';
import { DirectoryWatcher, type DirectoryCache } from './directory.ts';
import { checkMaxInFlight } from './in-flight.ts';
import { leaseCryptoPool, type CryptoPoolLease } from '../crypto/shared.ts';
import { checkCryptoWorkers, defaultCryptoWorkers } from '../crypto/size.ts';
import { AsyncPublisher } from './publisher.ts';
import { correctMessage, receivingRetractions, retractionStatus, retractMessage, type CorrectOutcome, type RetractionRecord, type RetractOutcome } from './retract.ts';
import { BusyStatements } from './busy-statement.ts';
import { request as rpcRequest, serve as rpcServe, type RequestHandler, type RpcHost, type ServeOptions, type Serving } from './rpc.ts';
import { loadAgencyDir, type AgencyIdentity } from './identity.ts';
import { natsTlsOptions } from './nats-tls.ts';
import { checkReconnectWait, ReconnectPacing } from './reconnect-pacing.ts';
import { credsWithJwt, jwtOfCreds } from './live-credentials.ts';
import type { FederationView } from './directory.ts';
import { writePrivateFile } from '../trust/key-file.ts';
import { join } from 'node:path';
import { typeCatalogOf } from './type-catalog.ts';
import type { CrossSupport } from '../envelope/cross.ts';
import { CrossView } from './cross-view.ts';

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
  /**
   * After losing the exchange, how long to wait before dialling a server again, plus nats.js's jitter (default
   * 2 000 ms, nats.js's `reconnectTimeWait`; a whole number of ms up to one hour, else ERR_USAGE). A switch to
   * re-issued credentials never waits for it.
   */
  reconnectWaitMs?: number;
  /** Which replica of this agency's services this connection is (default 1; see the policy's `replicas`). */
  replica?: number;
  /**
   * Keep the durable record of handled messages (default true): each message reaches the handler at
   * most once across restarts and replays. `false` only to measure its cost: a restart may then hand
   * a message to the handler twice.
   */
  atMostOnce?: boolean;
  /** Tolerance of the freshness rule (default REPLAY_TOLERANCE_MS, freshness.ts); tests shorten it. */
  replayToleranceMs?: number;
  /**
   * Worker threads that check the signatures of received copies and sign sends (issue 16; services/sdk/crypto):
   * default `defaultCryptoWorkers()` — one per core beyond the event loop's, at most 8; 0 keeps every signature
   * on the event loop. An integer from 0 to 8, else ERR_USAGE. Clients of one process share one pool per size.
   */
  cryptoWorkers?: number;
  /**
   * Keep the last verified federation directory here and start from it when the exchange does not answer (an
   * agency's leaf node while the link is down: sends go to its outbox). Verified against the root like a fetched one.
   */
  directoryCache?: DirectoryCache;
  /**
   * Send to and receive from agencies of peer federations under the agreements the directory carries
   * (services/bridge `bridgeSupport`); without it a qualified recipient is refused and bridged copies are rejected.
   */
  bridges?: CrossSupport;
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
  /**
   * The handler is idempotent (it records what it applied, e.g. the case registry's compare-and-set
   * per case): a copy left in doubt by a crash between handler and done is handed to it again
   * rather than quarantined. Default false: at most once, in-doubt copies go to quarantine.
   */
  redeliverInDoubt?: boolean;
  /**
   * The most copies one consumer holds in process, pulled but not yet settled at the handler (default
   * MAX_IN_FLIGHT, 64; an integer from 1 to 1024, else ERR_USAGE): the rest wait in JetStream.
   */
  maxInFlight?: number;
  /**
   * Copies of one consumer handed to the handler at once (default 1: one after another, in delivery
   * order). Above 1 the handler is started in delivery order without waiting for the previous copy to
   * settle (concurrent-consume.ts): only for a handler that orders what must be ordered itself. An
   * integer from 1 to 1024, else ERR_USAGE; never more than `maxInFlight`.
   */
  concurrency?: number;
}

/** The most {@link LiaisonClient.close} takes, stalled server or not (the CLI bounds a whole stop to 4 s). */
export const CLOSE_BOUND_MS = 3_000;
/** Of {@link CLOSE_BOUND_MS}, what is kept for draining the connection (flushing acks) after the consumers stop. */
export const CLOSE_DRAIN_RESERVE_MS = 1_000;

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
  /** The durable record of handled messages (set by connect unless `atMostOnce: false`). */
  #handled: HandledRecord | undefined;
  /** Set when connected offline: the durable record is opened before anything is consumed. */
  #handledPending = false;
  #replayToleranceMs: number | undefined;
  /** Set while reconnecting with re-issued credentials: settles when the connection is back. */
  #reconnecting: Promise<void> | undefined;
  /** Paces the connection's reconnects; a switch to re-issued credentials dials at once. */
  #pacing: ReconnectPacing | undefined;
  /** Messages retracted by their sender (`<sender> <id>`): a late delivery is dropped. */
  readonly #retracted = new SeenIds();
  readonly #aborts: AbortController[] = [];
  readonly #loops: Promise<void>[] = [];
  /** Running consumer loops by consumer name (a policy change starts and stops them). */
  readonly #running = new Map<string, AbortController>();
  /** consume() calls that take every type: they follow the policy as it changes. */
  readonly #followers: { handler: Handler; opts: ConsumeOptions }[] = [];
  /** Set while the exchange has a newer directory than this client: sends are refused until it is fetched. */
  #behind: string | undefined;
  /** The `.creds` the connection authenticates with; replaced when the directory carries a re-issued user JWT. */
  readonly #auth: { creds: Uint8Array };
  readonly #agencyDir: string | undefined;
  readonly #services: Serving[] = [];
  /** This agency's signed busy statements, shared by its services (made on the first serve). */
  #busy: BusyStatements | undefined;
  /** The shared crypto pool this client leases (absent: signatures on the event loop). */
  #crypto: CryptoPoolLease | undefined;
  /** The agreements in force and the peers' verified directories (set when connected with `bridges`). */
  #cross: CrossView | undefined;

  private constructor(
    identity: AgencyIdentity,
    nc: NatsConnection,
    catalog: Catalog,
    directory: DirectoryWatcher,
    logger: Logger,
    clock: Clock,
    replica: number,
    auth: { creds: Uint8Array },
    agencyDir: string | undefined,
  ) {
    this.#auth = auth;
    this.#agencyDir = agencyDir;
    this.id = identity.id;
    this.replica = replica;
    this.identity = identity;
    this.nc = nc;
    this.catalog = catalog;
    this.#js = agencyJetStream(nc);
    this.#codec = createEnvelopeCodec(catalog.envelopeTypes);
    this.#publisher = new AsyncPublisher(nc, inboxPrefix(identity.id), (subject) => this.#explainRefusal(subject));
    this.#directory = directory;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Connect an agency: NATS with its own .creds and inbox prefix, then fetch and verify the federation directory. */
  static async connect(opts: ConnectOptions): Promise<LiaisonClient> {
    const identity = opts.identity ?? (opts.agencyDir ? await loadAgencyDir(opts.agencyDir) : undefined);
    if (!identity) throw new LiaisonError('ERR_USAGE', 'LiaisonClient.connect needs agencyDir or identity');
    const cryptoWorkers = checkCryptoWorkers(opts.cryptoWorkers) ?? defaultCryptoWorkers();
    const reconnectWaitMs = checkReconnectWait(opts.reconnectWaitMs);
    const logger = (opts.logger ?? silentLogger()).child({ agency: identity.id });
    const catalog = opts.catalog ?? loadCatalog();
    let nc: NatsConnection;
    const auth = { creds: identity.creds };
    let pacing: ReconnectPacing;
    try {
      const servers = opts.servers ?? identity.servers;
      // The exchange's certificate is verified against the federation CA (plain TCP only to loopback, when enrolled so).
      const tls = natsTlsOptions(identity.ca, servers);
      pacing = new ReconnectPacing({ waitMs: reconnectWaitMs, tls: tls.tls !== null });
      nc = await connect({
        servers,
        ...tls,
        // A function: after a policy change the client swaps in its re-issued user JWT before reconnecting.
        authenticator: credsAuthenticator(() => auth.creds),
        inboxPrefix: inboxPrefix(identity.id),
        name: identity.id,
        reconnect: opts.reconnect ?? true,
        maxReconnectAttempts: -1,
        reconnectDelayHandler: pacing.delay,
        // No pre-built Error objects with stack traces per request (they dominated request profiles);
        // failures still carry a typed LiaisonError from the call site.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONNECT', `agency ${identity.id} cannot connect to ${(opts.servers ?? identity.servers).join(',')}`);
    }
    try {
      let client: LiaisonClient | undefined;
      const directory = await DirectoryWatcher.start({ nc, agency: identity.id, root: identity.root, catalog: typeCatalogOf(catalog), logger, cache: opts.directoryCache, onUpdate: (view) => {
          if (client) client.#adopt(view);
        } });
      client = new LiaisonClient(identity, nc, catalog, directory, logger, opts.clock ?? systemClock, opts.replica ?? 1, auth, opts.agencyDir);
      client.#pacing = pacing;
      if (opts.atMostOnce !== false) {
        // Started offline (cached directory): the record lives on the exchange; it is opened before the first consume.
        if (directory.fromCache) client.#handledPending = true;
        else client.#handled = await HandledRecord.open(nc, identity.id, { clock: client.#clock, replica: client.replica });
      }
      client.#replayToleranceMs = opts.replayToleranceMs;
      if (opts.bridges) {
        client.#cross = new CrossView({ nc, agency: identity.id, root: identity.root, catalog: typeCatalogOf(catalog), support: opts.bridges, logger });
        await client.#cross.adopt(directory.current());
      }
      client.#adopt(directory.current());
      // Re-issued while this agency was offline (a policy change it only gained by): connected on the re-issued JWT.
      await client.#reconnecting;
      client.#answerStatus();
      if (cryptoWorkers > 0) client.#crypto = leaseCryptoPool(cryptoWorkers, logger);
      return client;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /** The context the receive pipeline uses, from the latest verified directory. */
  openContext(): OpenContext {
    const fed = this.#directory.current();
    const bridges = this.#cross?.context();
    return { catalog: this.catalog, codec: this.#codec, policy: fed.policy, keys: fed.keys, self: this.id, clock: this.#clock, ...(bridges ? { bridges } : {}) };
  }

  /** The policy this client enforces (from the verified directory). */
  get policy() {
    return this.#directory.current().policy;
  }

  /** When the federation directory this process enforces was issued (ISO 8601). */
  get directoryIssuedAt(): string {
    return this.#directory.current().directory.issuedAt;
  }

  /**
   * Seal a message without sending it: validate the body, let the policy plan the copies (throws the
   * refusing rule), and sign one projected copy per tier. {@link send} is `publishSealed(seal(…))`.
   */
  seal(type: string, body: unknown, opts: SendOptions = {}): SealedMessage {
    return sealMessage(this.#sealContext(), type, body, opts);
  }

  /** What sealing needs, from the latest verified directory; ERR_POLICY_STALE while the exchange has a newer one. */
  #sealContext(): SealContext {
    if (this.#behind) {
      throw new LiaisonError('ERR_POLICY_STALE', `${this.id} enforces policy ${this.policy.hash.slice(0, 12)}… but the exchange is on a newer directory (${this.#behind}); refusing to send until it has caught up`, {
        policyHash: this.policy.hash,
      });
    }
    return {
      catalog: this.catalog,
      codec: this.#codec,
      policy: this.policy,
      sender: this.id,
      key: this.identity.key,
      clock: this.#clock,
      maxPayload: this.nc.info?.max_payload,
      bridges: this.#cross?.context(),
    };
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
    // With crypto worker threads the copies are signed there: the sends of one event-loop turn go as one batch.
    const sealed = this.#crypto ? await sealMessageWith(this.#crypto.sign, this.#sealContext(), type, body, opts) : this.seal(type, body, opts);
    return await this.publishSealed(sealed);
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
    checkMaxInFlight(opts.maxInFlight);
    checkConcurrency(opts.concurrency);
    await this.#openPendingRecord();
    if (!opts.types) this.#followers.push({ handler, opts });
    for (const spec of this.consumerSpecs(opts.types)) await this.#startLoop(spec, handler, opts);
  }

  async #startLoop(spec: { stream: string; name: string }, handler: Handler, opts: ConsumeOptions): Promise<void> {
    if (this.#running.has(spec.name)) return;
    const ac = new AbortController();
    this.#running.set(spec.name, ac);
    this.#aborts.push(ac);
    try {
      const consumer = await this.#js.consumers.get(spec.stream, spec.name);
      const loopOptions = this.#loopOptions(handler, opts);
      const running = (opts.concurrency ?? 1) > 1 ? runConcurrentConsumer(loopOptions, consumer, ac.signal, opts.concurrency!) : runConsumer(loopOptions, consumer, ac.signal);
      const loop = running
        .catch((err) => {
          if (!ac.signal.aborted) this.#logger.error({ err, consumer: spec.name }, 'consumer loop ended');
        })
        .finally(() => {
          if (this.#running.get(spec.name) === ac) this.#running.delete(spec.name);
        });
      this.#loops.push(loop);
    } catch (err) {
      this.#running.delete(spec.name);
      throw err;
    }
  }

  /**
   * Answer the exchange's status pings (`liaison exchange status`) with the policy this process enforces.
   * A ping carries the root-signed directory: it is verified, and adopted when newer (a push this process
   * missed). Nothing in a ping is trusted unverified: an unsigned or forged ping changes nothing; a verified
   * newer directory whose policy cannot be adopted marks the client behind (sends refused, ERR_POLICY_STALE).
   */
  #answerStatus(): void {
    this.nc.subscribe(STATUS_PING_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        const jws = directoryOfPing(msg.data);
        const offered = jws === undefined ? Promise.resolve(false) : this.#directory.offer(jws);
        void offered
          .catch((e: unknown) => {
            if (isLiaisonError(e, 'ERR_POLICY_STALE')) this.#behind = String((e as LiaisonError).details['issuedAt'] ?? 'a newer directory');
            else this.#logger.warn({ code: e instanceof LiaisonError ? e.code : undefined }, 'ignored a status ping whose directory does not verify');
            return false;
          })
          .then(() => this.#publishStatus());
      },
    });
  }

  #publishStatus(): void {
    const fed = this.#directory.current();
    const status = {
      agency: this.id,
      replica: this.replica,
      policyHash: fed.policy.hash,
      directoryIssuedAt: fed.directory.issuedAt,
      behind: this.#behind !== undefined,
      consumers: [...this.#running.keys()].sort(),
      received: this.stats.received,
      rejected: Object.values(this.stats.rejected).reduce((a, b) => a + (b ?? 0), 0),
    };
    try {
      this.nc.publish(statusSubject(this.id), JSON.stringify(status));
    } catch {
      // closed meanwhile
    }
  }

  /**
   * A newer directory arrived: adopt a re-issued NATS user JWT (persist it, reconnect with it, so the
   * new permissions apply now) and let the consumer loops follow the policy — stop those it no longer
   * grants, start the new ones for consume() calls that take every type.
   */
  #adopt(view: FederationView): void {
    if (this.#behind && Date.parse(view.directory.issuedAt) >= Date.parse(this.#behind)) this.#behind = undefined;
    void this.#cross?.adopt(view).catch((err: unknown) => this.#logger.warn({ err }, 'could not adopt the agreements of the new directory'));
    const mine = view.directory.agencies.find((a) => a.id === this.id);
    if (mine?.natsJwt && mine.revokedAt === undefined && mine.natsJwt !== jwtOfCreds(this.#auth.creds)) {
      this.#auth.creds = credsWithJwt(this.#auth.creds, mine.natsJwt);
      this.#logger.info({ policyHash: view.policy.hash }, 'adopting re-issued credentials; reconnecting');
      if (this.#agencyDir) void writePrivateFile(join(this.#agencyDir, 'nats.creds'), this.#auth.creds).catch((err: unknown) => this.#logger.warn({ err }, 'could not save the re-issued creds'));
      if (!this.nc.isClosed()) this.#reconnectNow();
    }
    if (this.#running.size === 0 && this.#followers.length === 0) return;
    const specs = this.consumerSpecs();
    const granted = new Set(specs.map((s) => s.name));
    for (const [name, ac] of this.#running) {
      if (!granted.has(name)) {
        this.#logger.info({ consumer: name }, 'the policy no longer grants this consumer; stopping it');
        ac.abort();
        this.#running.delete(name);
      }
    }
    for (const f of this.#followers) {
      for (const spec of specs) {
        if (!this.#running.has(spec.name)) {
          // The exchange provisions the consumer with the same policy; retry briefly until it exists.
          void this.#startWhenProvisioned(spec, f.handler, f.opts);
        }
      }
    }
  }

  /**
   * Why the broker may have refused publishing to `subject`, by the policy this process enforces: the
   * deciding rule when the policy allows it (then the exchange's credentials are behind that policy,
   * or the agency was revoked), or why no rule does.
   */
  #explainRefusal(subject: string): { reason: string; rule?: string } {
    const s = parseMessageSubject(subject);
    if (!s) return { reason: `${subject} is not a message subject of the exchange` };
    if (s.sender !== this.id) return { reason: `the subject names ${s.sender} as its sender: an agency may publish only as itself (${this.id})` };
    const d = canSend(this.policy, this.id, s.type);
    if (!d.allowed) return { reason: `no rule allows it: ${d.reason}` };
    return {
      rule: d.rule,
      reason: `${d.reason} in the policy this process enforces (${this.policy.hash.slice(0, 12)}…), but the exchange's credentials for ${this.id} do not allow it: they are behind that policy, or ${this.id} was revoked (run liaison doctor --as AGENCY_DIR)`,
    };
  }

  /**
   * Reconnect now (with the re-issued JWT the authenticator returns): the dial goes at once, not after nats.js's
   * reconnect wait; {@link #reconnecting} settles when the connection is back, or after 5 s. A JetStream request
   * made meanwhile would be lost with the old connection and wait out its whole timeout, so new consumers are
   * looked up after it.
   */
  #reconnectNow(): void {
    const statuses = this.nc.status();
    const back = (async () => {
      for await (const st of statuses) if (st.type === 'reconnect') return;
    })();
    this.#pacing?.dialNow();
    void this.nc.reconnect().catch((err: unknown) => this.#logger.warn({ err }, 'reconnect with re-issued creds failed'));
    const settled: Promise<void> = Promise.race([back, new Promise<void>((r) => setTimeout(r, 5_000).unref())]).finally(() => {
      if (this.#reconnecting === settled) this.#reconnecting = undefined;
    });
    this.#reconnecting = settled;
  }

  async #startWhenProvisioned(spec: { stream: string; name: string }, handler: Handler, opts: ConsumeOptions): Promise<void> {
    for (let i = 0; i < 50 && !this.nc.isClosed(); i++) {
      await this.#reconnecting;
      try {
        await this.#startLoop(spec, handler, opts);
        this.#logger.info({ consumer: spec.name }, 'the policy grants a new consumer; consuming it');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The durable record of handled messages of a client connected offline, opened now (the exchange must answer). */
  async #openPendingRecord(): Promise<void> {
    if (!this.#handledPending) return;
    try {
      this.#handled = await HandledRecord.open(this.nc, this.id, { clock: this.#clock, replica: this.replica });
    } catch (err) {
      throw asLiaisonError(err, 'ERR_HANDLED_RECORD', `${this.id} connected while the exchange was unreachable; its record of handled messages cannot be opened yet`);
    }
    this.#handledPending = false;
  }

  /** Fetch up to `max` pending copies from one consumer and process them (CLI `tail`, tests). */
  async drain(handler: Handler, opts: ConsumeOptions & { max?: number; expiresMs?: number } = {}): Promise<number> {
    await this.#openPendingRecord();
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
      handler: receivingRetractions({ id: this.id, retracted: this.#retracted, send: (t, b, o) => this.send(t, b, o), logger: this.#logger }, handler),
      onReject: opts.onReject,
      redeliverInDoubt: opts.redeliverInDoubt,
      maxInFlight: opts.maxInFlight,
      seen: this.#seen,
      handled: this.#handled,
      replayToleranceMs: this.#replayToleranceMs,
      msgIdKey: msgIdTagKey(this.identity.key.privateKey),
      verify: this.#crypto?.verify,
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
    // What the replay redelivers was handled before: the durable record lets it reach the handler again.
    this.#handled?.allowReplay(positions);
    return reply.reset ?? [];
  }

  /**
   * Retract a message this agency sent: the exchange deletes its copies (never delivered again, also
   * not on a replay) and every agency that had received it gets a signed Retraction, which its SDK
   * hands to its handler and acknowledges with a signed RetractionReceipt. Another agency's message
   * is refused with ERR_RETRACT_NOT_SENDER.
   */
  async retract(originalId: string, reason: string): Promise<RetractOutcome> {
    return await retractMessage(this, originalId, reason);
  }

  /** Correct a message this agency sent: the corrected body goes out as a new message, the original is retracted (see retract.ts). */
  async correct(originalId: string, body: unknown, reason?: string): Promise<CorrectOutcome> {
    return await correctMessage(this, originalId, body, reason);
  }

  /** The exchange's record of a retraction of this agency, with each recipient's receipt (`acknowledgedAt`). */
  async retractionStatus(originalId: string): Promise<RetractionRecord> {
    return await retractionStatus(this, originalId);
  }

  /**
   * Send a signed request to the agency that serves `type` (e.g. a DocumentCheckRequest to the
   * registry) and return its verified reply, bound to this request by its hash.
   */
  async request(type: string, body: unknown, opts: SendOptions & { timeoutMs?: number } = {}): Promise<ReceivedMessage> {
    return await rpcRequest(this.#rpcHost(), type, body, opts);
  }

  /**
   * Serve request types this agency's roles list under `serve`; handlers answer with a type and body. `meta` bounds
   * how requests are taken on: admission before verification, concurrency, waiting (see {@link ServeOptions}).
   */
  async serve(handlers: Record<string, RequestHandler>, meta: ServeOptions = {}): Promise<Serving> {
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
      sealWith: (sign, type, body, opts) => sealMessageWith(sign, this.#sealContext(), type, body, opts),
      logger: this.#logger,
      ...(this.#crypto ? { cryptoPool: this.#crypto.pool } : {}),
      busy: (this.#busy ??= new BusyStatements({ service: this.id, key: () => this.identity.key, clock: this.#clock })),
    };
  }

  /**
   * Stop consuming and close the connection (pending acks are flushed first). Bounded: within
   * {@link CLOSE_BOUND_MS} in all (or `boundMs`, when a caller has less of its own stop bound left), even when
   * the server stalls; past it the connection is closed as is.
   */
  async close(o: { boundMs?: number } = {}): Promise<void> {
    const boundMs = Math.max(0, Math.min(CLOSE_BOUND_MS, o.boundMs ?? CLOSE_BOUND_MS));
    const deadline = Date.now() + boundMs;
    const drainReserveMs = Math.round((CLOSE_DRAIN_RESERVE_MS * boundMs) / CLOSE_BOUND_MS);
    /** `p`, or `fallback` once the close's deadline (less `reserveMs`, kept for the drain) has passed. */
    const inTime = <T>(p: Promise<T>, fallback: T, reserveMs = drainReserveMs): Promise<T> =>
      Promise.race([p, new Promise<T>((r) => setTimeout(() => r(fallback), Math.max(0, deadline - reserveMs - Date.now())).unref())]);
    await inTime(Promise.allSettled(this.#services.map((s) => s.stop())), []);
    for (const ac of this.#aborts) ac.abort();
    // Consumer loops end when their pull closes; never let a stuck one hold the shutdown.
    await inTime(Promise.allSettled(this.#loops), []);
    // Handled copies still being marked done: let them finish, so their redelivery is not taken as in doubt.
    if (this.#handled) await inTime(this.#handled.idle(), undefined);
    this.#directory.stop();
    this.#cross?.stop();
    this.#publisher.close();
    this.#crypto?.release();
    if (!this.nc.isClosed()) {
      // drain() waits for a reconnect that may never come (a revoked agency is refused): bound it, then close.
      const drained = this.nc.drain().then(
        () => true,
        () => false,
      );
      if (!(await inTime(drained, false, 0)) && !this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    }
    // Only now, its writes drained: closed earlier, pending done marks would fail and their copies come back in doubt.
    // Left open, its writer's sweep timer would keep it and the closed connection alive for the life of the process.
    this.#handled?.close();
  }
}
