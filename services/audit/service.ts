import { DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerMessages } from '@nats-io/jetstream';
import { nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { leaseCryptoPool, type CryptoPoolLease } from '../sdk/crypto/shared.ts';
import { checkCryptoWorkers, defaultCryptoWorkers } from '../sdk/crypto/size.ts';
import type { SignatureCheck } from '../sdk/envelope/jws.ts';
import type { Logger } from '../sdk/logging.ts';
import { silentLogger } from '../sdk/logging.ts';
import { compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { parseMessageSubject, QUARANTINE_STREAM } from '../sdk/subjects.ts';
import { loadOrCreateAuditKey } from '../trust/audit-key.ts';
import type { SigningKey } from '../trust/key-file.ts';
import { bridgeRefusal, CrossBook, isCross, TERMINATED_ADVISORY, unjudged, type CrossJudgement } from './cross.ts';
import type { Entry, ReceiptEntry } from './entry.ts';
import { isReplaySubject, queryFacts, storedFacts } from './facts.ts';
import { ensureLedgerStream, readSourcePositions } from './ledger-stream.ts';
import { DeliveryMap } from './recipients.ts';
import type { QueriesMissedBody } from './missed-tally.ts';
import { RequestListener } from './request-listener.ts';
import { RequestVerifier, type RequestSigner } from './requester.ts';
import { RequestQueue, type QueuedItem, type RequestQueueOptions, type RequestQueueStats, type SeenRequest } from './request-queue.ts';
import { LedgerWriter } from './writer.ts';
import { retryTransient } from '../sdk/jetstream-retry.ts';
import { settleBy } from '../sdk/settle-by.ts';

/** Options of {@link startAuditService}. */
export interface AuditServiceOptions {
  /** The exchange administrator's connection (LIAISON account): the audit is part of the control plane. */
  nc: NatsConnection;
  /** TRUST_DIR: where the audit key lives (`audit-key.jwk`, created on first use, mode 0600). */
  trustDir: string;
  /** The policy in force (read per copy, so a reprovisioned policy applies at once). */
  policy: () => Policy;
  catalog: TypeCatalog;
  logger?: Logger;
  /** A signed checkpoint every N entries (default 1 000)… */
  checkpointEvery?: number;
  /** …and at least every T ms while entries come (default 30 s), and on stop. */
  checkpointMs?: number;
  /** How often consumer acknowledgement floors are read into receipt entries (default 2 s; 0: never). */
  receiptsMs?: number;
  /** Record requests on `liaison.v1.svc.>` (default true). */
  queries?: boolean;
  /**
   * Bounds of the queue of requests waiting to be recorded (default 4 096 requests, 32 MiB). Requests are core NATS,
   * not stored: beyond the bound they are counted, not held, and one `queries-missed` entry says so.
   */
  queryQueue?: Pick<RequestQueueOptions, 'maxRequests' | 'maxBytes'>;
  /**
   * Worker threads verifying the requests' signatures (the process's shared crypto pool of that size,
   * services/sdk/crypto/shared.ts); default one per core beyond the first; 0: on the event loop. Appends keep
   * arrival order either way.
   */
  cryptoWorkers?: number;
}

/** What the audit service did since it started. */
export interface AuditStats {
  /** Entries appended, by kind. */
  appended: Partial<Record<Entry['kind'], number>>;
  /** The chain head: last entry number. */
  head: number;
  /** Times the writer failed and the service resynchronised from the ledger. */
  restarts: number;
  /** Requests whose signature was checked on the crypto pool's worker threads. */
  verifiedOnPool: number;
  /** The queue of requests to record: held now, high-water, requests not recorded and overflow episodes. */
  queries: RequestQueueStats;
}

/** A running audit service. */
export interface AuditService {
  /** Wait until every copy stored in the source streams so far, and every request seen, is in the ledger. */
  flush(timeoutMs?: number): Promise<void>;
  /** Append a signed checkpoint now (when entries came since the last one) and wait until stored. */
  checkpoint(): Promise<void>;
  stats(): AuditStats;
  /**
   * Stop reading, append a final checkpoint, wait until stored — until the epoch-ms deadline `by` at most (default
   * 15 s from now), stalled server or not; what is not stored by then is logged.
   */
  stop(by?: number): Promise<void>;
}

export { auditedRequestSubjects } from './request-listener.ts';

/** One run of the service over one writer; a failed writer ends the session and a new one resumes from the ledger. */
class Session {
  readonly positions: Record<string, number> = {};
  readonly #o: AuditServiceOptions;
  readonly #writer: LedgerWriter;
  readonly #deliveries: DeliveryMap;
  readonly #logger: Logger;
  readonly #iters: ConsumerMessages[] = [];
  readonly #consumers: Consumer[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #floors = new Map<string, number>();
  #subs: Subscription[] = [];
  #closed = false;
  /** The service's listener on the request subjects (it outlives a failed session), started with the first session. */
  readonly #listener: RequestListener | undefined;
  /** Wakes the service's current session's pump: a request counted late (its entry lost in flight) is taken there. */
  readonly #wake: () => void;
  readonly #verifier: RequestVerifier | undefined;
  readonly #cross: CrossBook | undefined;
  /** Requests to verify and append, in the order they were seen (the service's: it outlives a failed session). */
  readonly #requests: RequestQueue;
  /** The pump taking from {@link #requests}, while it runs. */
  #pump: Promise<void> | undefined;
  /** The Ed25519 check of request signatures: the crypto pool's, or undefined (the event loop). */
  readonly #check: SignatureCheck | undefined;

  constructor(o: AuditServiceOptions, writer: LedgerWriter, logger: Logger, verifier: RequestVerifier | undefined, cross: CrossBook | undefined, requests: RequestQueue, check: SignatureCheck | undefined, listener: RequestListener | undefined, wake: () => void) {
    this.#o = o;
    this.#listener = listener;
    this.#wake = wake;
    this.#requests = requests;
    this.#check = check;
    this.#cross = cross;
    this.#writer = writer;
    this.#deliveries = new DeliveryMap(o.catalog);
    this.#logger = logger;
    this.#verifier = verifier;
  }

  /** True when every request seen so far, or its count in a `queries-missed` entry, is in the writer's hands. */
  get queriesDone(): boolean {
    return this.#pump === undefined && this.#requests.empty;
  }

  get writer(): LedgerWriter {
    return this.#writer;
  }

  async start(key: SigningKey, streams: string[]): Promise<void> {
    Object.assign(this.positions, await readSourcePositions(this.#o.nc, streams));
    await this.#writer.append({ kind: 'start', at: new Date().toISOString(), kid: key.kid, positions: { ...this.positions } });
    this.#subs.push(this.#watchBridgeRefusals());
    if (this.#listener) {
      this.#listener.start();
      // Requests a failed session left held, or that arrived while it was replaced, are recorded by this one's writer.
      this.kick();
    }
    const js = jetstream(this.#o.nc, { timeout: READER_REQUEST_TIMEOUT_MS });
    // Every stream's reader made at once: on a cluster with a node down some attempts go unanswered and are retried.
    const readers = await Promise.all(
      streams.map((stream) => {
        const from = this.positions[stream] ?? 0;
        return retryTransient(
          () =>
            js.consumers.get(stream, {
              name_prefix: `AUDIT_${stream}_${nuid.next()}`,
              ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
            }),
          START_RETRY_MS,
        );
      }),
    );
    for (const [i, stream] of streams.entries()) {
      const consumer = readers[i]!;
      const messages = await consumer.consume({ max_messages: 512, expires: 5_000 });
      this.#iters.push(messages);
      this.#consumers.push(consumer);
      this.#loops.push(this.#read(stream, messages));
    }
    const receiptsMs = this.#o.receiptsMs ?? 2_000;
    // One round at a time: a round lists every stream's consumers, which on a cluster with a node down waits ≈ 4 s per
    // stream whose consumers that node hosted: rounds started at every interval would pile up (test/cluster-attach).
    let receipting = false;
    const round = () => {
      if (receipting) return;
      receipting = true;
      void this.receipts(streams.filter((s) => s !== QUARANTINE_STREAM))
        .catch(() => undefined)
        .finally(() => (receipting = false));
    };
    if (receiptsMs > 0) this.#timers.push(setInterval(round, receiptsMs));
    this.#timers.push(setInterval(() => this.#writer.checkpoint(), this.#o.checkpointMs ?? 30_000));
    for (const t of this.#timers) t.unref();
  }

  /** Start the pump unless it runs (or this session is closed: the next one starts it). */
  kick(): void {
    if (this.#pump || this.#closed) return;
    this.#pump = this.#drain().finally(() => {
      this.#pump = undefined;
      if (!this.#requests.empty) this.kick();
    });
  }

  /**
   * Record the queued requests in order. Up to {@link VERIFY_AHEAD} are taken at once and their signatures checked
   * together (on the crypto pool's threads, one batch), then appended one by one in arrival order, each append
   * awaited: the writer's pipeline bound then holds the pump, and requests arriving meanwhile wait in the bounded
   * queue (or are counted) instead of piling up as entries in flight. Requests taken stay counted against the
   * queue's bound until appended. An entry that is not stored (refused by a failed writer, or its publish failed in
   * flight) counts its request(s) as missed, for the next session's writer.
   */
  async #drain(): Promise<void> {
    while (!this.#closed) {
      const batch: QueuedItem[] = [];
      for (let item = this.#requests.take(); item; item = batch.length < VERIFY_AHEAD ? this.#requests.take() : undefined) batch.push(item);
      if (batch.length === 0) return;
      const signers = batch.map((item) => (item.request ? this.#signerOf(item.request) : undefined));
      for (const [i, item] of batch.entries()) {
        try {
          if (item.missed) await this.#appendMissed(item.missed);
          else await this.#record(item.request, await signers[i]);
        } finally {
          this.#requests.done(item);
        }
      }
    }
  }

  /** Who signed a request (a replay request is named by its subject): verified against the federation directory. */
  async #signerOf(q: SeenRequest): Promise<RequestSigner | undefined> {
    if (isReplaySubject(q.subject)) return undefined;
    if (!this.#verifier) return { unverified: 'ERR_CONFIG_INVALID: the audit could not read the federation directory' };
    return await this.#verifier.verify(q.data, this.#check);
  }

  /** Append one request's entry; counted as missed ('append-failed') when it is not stored. */
  async #record(q: SeenRequest, signer: RequestSigner | undefined): Promise<void> {
    const facts = queryFacts({ ...q, ...(signer ? { signer } : {}) }, this.#o.policy(), this.#deliveries);
    if (facts) await this.#writer.append(facts, () => this.#lost(() => this.#requests.miss(q, 'append-failed'))).catch(() => undefined);
  }

  /** Append the count of requests not recorded; counted again when it is not stored. */
  async #appendMissed(missed: QueriesMissedBody): Promise<void> {
    this.#logger.info({ count: missed.count, from: missed.from, to: missed.to, reasons: missed.reasons }, 'audit: requests not recorded (a queries-missed entry says so)');
    await this.#writer.append(missed, () => this.#lost(() => this.#requests.restore(missed))).catch(() => undefined);
  }

  /** An entry of requests was not stored: count them again, and have the current session's pump take the count. */
  #lost(count: () => void): void {
    count();
    this.#wake();
  }

  /** Record the requests held (for a stop, the service's listener closed first: the writer is sound). */
  async drainQueries(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    this.kick();
    while (!this.queriesDone && Date.now() < end && !this.#writer.failed) await settleBy(this.#pump ?? new Promise((r) => setTimeout(r, 10)), end);
  }

  async #read(stream: string, messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.#closed) break;
        const last = this.positions[stream] ?? 0;
        if (m.seq <= last) continue;
        const storedAt = m.time.toISOString();
        if (m.seq > last + 1) await this.#writer.append({ kind: 'gap', at: storedAt, stream, from: last + 1, to: m.seq - 1 });
        const policy = this.#o.policy();
        const cross = stream === QUARANTINE_STREAM ? undefined : await this.#judgeCross(m.subject, policy);
        await this.#writer.append(storedFacts({ stream, seq: m.seq, subject: m.subject, data: m.data, header: (n) => m.headers?.get(n) || undefined, storedAt }, policy, this.#deliveries, cross));
        this.positions[stream] = m.seq;
      }
    } catch (err) {
      if (!this.#closed) this.#logger.warn({ err, stream }, 'audit reader stopped');
    }
  }

  /**
   * Record each copy the bridge terminates on an export consumer (JetStream's MSG_TERMINATED advisory; the bridge
   * terminates what the peer's broker refused): its consumer's acknowledgement floor passes it, yet it never crossed.
   * Advisories are core NATS: one published while the audit is not connected is not recorded.
   */
  #watchBridgeRefusals(): Subscription {
    return this.#o.nc.subscribe(`${TERMINATED_ADVISORY}.*.*`, {
      callback: (err, msg) => {
        if (err || this.#closed) return;
        const r = bridgeRefusal(msg.data);
        if (r) this.#writer.append({ kind: 'bridge-refusal', at: new Date().toISOString(), ...r }).catch(() => undefined);
      },
    });
  }

  /** A copy naming a qualified sender or recipient, judged across the applied agreements (cross.ts); else undefined. */
  async #judgeCross(subject: string, policy: Policy): Promise<CrossJudgement | undefined> {
    const s = parseMessageSubject(subject);
    if (!s || !isCross(s)) return undefined;
    if (!this.#cross) return unjudged(s, subject, '', 'the federation directory could not be read');
    try {
      return await this.#cross.judge(s, subject, policy);
    } catch (err) {
      this.#logger.warn({ err, subject }, 'audit: cannot read the applied agreements');
      return unjudged(s, subject, this.#cross.federation, `the applied agreements could not be read: ${(err as Error).message}`);
    }
  }

  /** Append one receipt entry with the acknowledgement floors that advanced since the last read. */
  async receipts(streams: string[]): Promise<void> {
    const jsm = await jetstreamManager(this.#o.nc);
    const acks: ReceiptEntry['acks'] = [];
    for (const stream of streams) {
      for await (const ci of jsm.consumers.list(stream)) {
        if (!ci.config.durable_name) continue;
        const key = `${stream}/${ci.name}`;
        const floor = ci.ack_floor.stream_seq;
        if (floor > (this.#floors.get(key) ?? 0)) {
          this.#floors.set(key, floor);
          acks.push({ stream, consumer: ci.name, agency: DeliveryMap.agencyOf(ci.name), ackFloor: floor });
        }
      }
    }
    if (acks.length && !this.#closed) await this.#writer.append({ kind: 'receipt', at: new Date().toISOString(), acks });
  }

  /** Stop reading; what is still pending at the epoch-ms deadline `by` (none: no deadline) is left, not waited for. */
  async close(by?: number): Promise<void> {
    this.#closed = true;
    await settleBy(this.#pump ?? Promise.resolve(), by);
    for (const t of this.#timers) clearInterval(t);
    for (const s of this.#subs) s.unsubscribe();
    await settleBy(Promise.allSettled(this.#iters.map((m) => m.close())), by);
    await settleBy(Promise.allSettled(this.#loops), by);
    await settleBy(Promise.allSettled(this.#consumers.map((c) => c.delete())), by);
  }
}

/** Requests taken from the queue at once, their signatures checked together (one batch on the crypto pool). */
const VERIFY_AHEAD = 64;
/** How long a stop waits for the requests held to be recorded. */
const STOP_DRAIN_MS = 10_000;
/** How long a stop takes at most, server stalled or not (default of `stop(by)`). */
const STOP_BOUND_MS = 15_000;
/** Timeout of each request creating one of the audit's readers (retried: see {@link START_RETRY_MS}). */
const READER_REQUEST_TIMEOUT_MS = 1_000;
/**
 * How long the audit keeps trying a step of its start (opening the ledger, creating one ordered reader) through answers
 * that pass ({@link retryTransient}): right after the exchange pushed the account JWTs JetStream answers late for a
 * moment, and on a cluster with a node down nats-server 2.9.10 places a new R1 consumer on any of the stream's peers,
 * the dead node's too (about one create in three went unanswered in test/cluster-attach, long after the kill); each
 * attempt (a new name) is placed anew.
 */
const START_RETRY_MS = 60_000;

/**
 * Start the audit ledger: part of the exchange control plane, on the administrator's connection.
 * It reads every family stream and the quarantine stream with ordered consumers of its own
 * (`AUDIT_<stream>_…`, ephemeral: the ledger itself records where each stream was read up to, so a
 * restart resumes exactly there), listens to service requests (`liaison.v1.svc.>`; each recorded
 * under its signer, verified against the federation directory: {@link RequestVerifier}), reads consumer
 * acknowledgement floors, and appends one entry per fact to the `LIAISON_AUDIT` hash chain, with a
 * checkpoint signed by the audit key every N entries, every T ms and on stop. When an append fails
 * (another writer, a ledger changed underneath) the session ends and a new one resumes from the
 * ledger's head a second later.
 */
export async function startAuditService(o: AuditServiceOptions): Promise<AuditService> {
  const logger = (o.logger ?? silentLogger()).child({ service: 'audit' });
  const key = await loadOrCreateAuditKey(o.trustDir);
  const streams = compileStreams(o.policy(), o.catalog).map((s) => s.name);
  let restarts = 0;
  let stopping = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let session: Session;
  /** The session whose pump records requests: set before its start, so a request arriving meanwhile is taken. */
  let recording: Session | undefined;
  const wake = () => recording?.kick();
  const requests = new RequestQueue({
    ...o.queryQueue,
    // Once per overflow episode, not per request: the episode's count goes in its queries-missed entry.
    onOverflow: (q) => logger.warn({ ...q, maxRequests: requests.maxRequests, maxBytes: requests.maxBytes }, 'audit: request queue full; requests are counted, not recorded, until it has room'),
  });
  const workers = checkCryptoWorkers(o.cryptoWorkers) ?? defaultCryptoWorkers();
  const lease: CryptoPoolLease | undefined = workers > 0 ? leaseCryptoPool(workers, logger) : undefined;
  let verifiedOnPool = 0;
  const check: SignatureCheck | undefined = lease
    ? (input, signature, key) => {
        verifiedOnPool++;
        return lease.verify(input, signature, key);
      }
    : undefined;
  const verifier = await RequestVerifier.open(o.trustDir, o.catalog).catch((err: unknown) => {
    logger.warn({ err }, 'cannot read the federation directory: requesters are recorded as claimed, marked unverified');
    return undefined;
  });
  // Copies naming a qualified agency are judged against the agreements applied in TRUST_DIR (issue 17).
  const cross = await CrossBook.open(o.trustDir, o.catalog).catch((err: unknown) => {
    logger.warn({ err }, 'cannot read the federation directory: copies across agreements are recorded without their agreement');
    return undefined;
  });

  const listener = o.queries === false ? undefined : new RequestListener({ nc: o.nc, policy: o.policy, catalog: o.catalog, requests, onRequest: wake });

  const open = async (): Promise<Session> => {
    const writer = await retryTransient(async () => {
      await ensureLedgerStream(o.nc);
      return await LedgerWriter.open(o.nc, key, { checkpointEvery: o.checkpointEvery, logger });
    }, START_RETRY_MS);
    const s = new Session(o, writer, logger, verifier, cross, requests, check, listener, wake);
    recording = s;
    writer.onFailure(() => {
      if (stopping) return;
      restarts++;
      void s.close().then(() => {
        if (!stopping) retry = setTimeout(() => void reopen(), 1_000);
      });
    });
    try {
      await s.start(key, streams);
    } catch (err) {
      // Its pump stops at once (what it held stays queued for the next session); its readers are closed meanwhile.
      void s.close();
      throw err;
    }
    return s;
  };
  const reopen = async (): Promise<void> => {
    try {
      session = await open();
      logger.info({ head: session.writer.head.n }, 'audit ledger resynchronised');
    } catch (err) {
      logger.error({ err }, 'audit ledger cannot resume; retrying');
      if (!stopping) retry = setTimeout(() => void reopen(), 5_000);
    }
  };

  try {
    session = await open();
  } catch (err) {
    listener?.close();
    lease?.release();
    throw err;
  }
  logger.info({ head: session.writer.head.n, kid: key.kid, streams: streams.length }, 'audit ledger started');
  return {
    async flush(timeoutMs = 10_000) {
      await o.nc.flush();
      const jsm = await jetstreamManager(o.nc);
      const targets = await Promise.all(streams.map(async (s) => [s, (await jsm.streams.info(s)).state.last_seq] as const));
      const end = Date.now() + timeoutMs;
      while (targets.some(([s, last]) => (session.positions[s] ?? 0) < last)) {
        if (Date.now() > end) throw new Error(`audit flush timed out: ${targets.filter(([s, last]) => (session.positions[s] ?? 0) < last).map(([s, l]) => `${s} ${session.positions[s] ?? 0}/${l}`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      while (!session.queriesDone) {
        if (Date.now() > end) throw new Error(`audit flush timed out: ${requests.length} requests still to record`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await session.writer.flush();
    },
    async checkpoint() {
      session.writer.checkpoint();
      await session.writer.flush();
    },
    stats() {
      return { appended: { ...session.writer.counts }, head: session.writer.head.n, restarts, queries: requests.stats(), verifiedOnPool };
    },
    async stop(by = Date.now() + STOP_BOUND_MS) {
      stopping = true;
      if (retry) clearTimeout(retry);
      // Requests published from now on are not seen; those held are recorded before the stop returns (within its bound).
      listener?.close();
      await session.drainQueries(Math.min(STOP_DRAIN_MS, (by - Date.now()) / 2));
      if (!requests.empty) logger.warn({ held: requests.length }, 'audit stopped with requests not recorded');
      // The last half of what is left goes to storing the entries in flight and the closing checkpoint.
      await session.close(by - (by - Date.now()) / 2);
      session.writer.checkpoint();
      const stored = await settleBy(session.writer.flush(), by);
      if (stored.state === 'failed') logger.error({ err: stored.err }, 'audit ledger: last entries not stored');
      // Copies are recorded again from their streams at the next start (it resumes after the last entry stored).
      if (stored.state === 'late') logger.warn({ head: session.writer.head.n }, 'audit ledger: last entries not stored before the stop bound');
      lease?.release();
      logger.info({ head: session.writer.head.n }, 'audit ledger stopped');
    },
  };
}
