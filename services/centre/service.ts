import { migrateCentreFacts } from './migrate-facts.ts';
import type { LiaisonClient } from '../sdk/client/client.ts';
import { systemClock, type Clock } from '../sdk/clock.ts';
import { MAX_IN_FLIGHT } from '../sdk/client/consume.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { derivedUuidv7 } from '../sdk/ids.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { agencyBuckets } from '../sdk/policy/index.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import { AlertCoalescer } from './alert-coalescer.ts';
import { deliverAlert, forgetAlerts, recordEntity, settleAll, type CorrelateContext } from './correlate.ts';
import { extractEntities } from './entities.ts';
import { EntityWriter } from './entity-writer.ts';
import { extractFacts } from './facts.ts';
import { composeReport, DEFAULT_PERIOD_MS, type StrategicFigures } from './report.ts';
import { applyRetraction, type RetractionStats } from './retraction.ts';
import { CorrelationStore, entityHash } from './store.ts';

/** Counters of a running centre. */
export interface CentreStats extends RetractionStats {
  /** Messages fully handled. */
  processed: number;
  /** Redeliveries of messages handled before (after a restart), skipped. */
  replayed: number;
  /** Occurrences of correlatable values recorded. */
  occurrences: number;
  /** Alerts sent (one per recipient per link event). */
  alerts: number;
  /** Alerts that told the recipient only that another agency holds a matching record. */
  withheld: number;
  /** Alerts the policy does not let the centre send to an involved agency (logged, dropped). */
  undeliverable: number;
  /** Strategic reports published. */
  reports: number;
  /** Alerts a newer alert to the same recipient about the same value replaced before they went (its references include theirs). */
  alertsMerged: number;
}

/** A strategic report: the figures and the StrategicReport body built from them. */
export interface CentreReport {
  figures: StrategicFigures;
  body: Record<string, unknown>;
  /** Set when it was published (its message id). */
  published?: string;
}

/** Options of {@link Centre.report}. */
export interface ReportRequest {
  /** End of the period (default: now by the centre's clock). */
  periodEnd?: number;
  /** Length of the period (default: the centre's). */
  periodMs?: number;
  /** Broadcast it as a StrategicReport (default false). */
  publish?: boolean;
  /** Message id when published (default: derived from the period, so a repeat is de-duplicated). */
  id?: string;
}

/** A running multiagency centre. */
export interface Centre {
  readonly stats: CentreStats;
  readonly store: CorrelationStore;
  /** Build a strategic report now (and publish it when asked). */
  report(req?: ReportRequest): Promise<CentreReport>;
  /** Stop the report schedule, wait for a report in progress and start sending the alerts still waiting; closing the client stops consumption. */
  stop(): Promise<void>;
}

/**
 * Messages the centre handles at once per consumer: its work is round trips (facts, record writes, alert
 * sends), so it keeps up by overlapping them, not by CPU; and the more messages in process, the more
 * alerts about one value the {@link AlertCoalescer} merges (issue 13). Each is a verified message
 * held until acknowledged: memory stays bounded by this times the centre's consumers.
 */
export const CENTRE_CONCURRENCY = 128;

/** Options of {@link startCentre}. */
export interface CentreOptions {
  /** A connection of an agency whose roles send CorrelationAlert and StrategicReport and keep `state: { kv: [correlations] }`. */
  client: LiaisonClient;
  /** The clock reports and link times run on. */
  clock?: Clock;
  logger?: Logger;
  /** Real milliseconds between scheduled reports (default one day; 0: only on demand). */
  reportEveryMs?: number;
  /** Period a report covers (default 30 days of the centre's clock). */
  reportPeriodMs?: number;
  /** Small-cell suppression of public nationality and document-type figures (default 3). */
  minPublicCount?: number;
  /** Consume only these types (default: every type the centre receives but {@link CENTRE_SKIPPED_TYPES}). */
  types?: string[];
  /** Called with every message the centre received, before handling it (simulations, audit). */
  observe?: (msg: ReceivedMessage) => void;
  /** How long a Retraction waits for its original when it overtook it (default 2000 ms). */
  retractionWaitMs?: number;
  /**
   * Messages of one consumer handled at once (default {@link CENTRE_CONCURRENCY}; 1: one at a time). Safe
   * because the centre orders what must be ordered itself: writes of one value go through its EntityWriter
   * in order, and a retraction waits for the facts of its original (retractionWaitMs).
   */
  concurrency?: number;
  /**
   * Longest time an alert waits for a newer one to the same recipient about the same value, which then
   * replaces it (default {@link ALERT_WINDOW_MS}; 0: every alert at once). Alerts go at once anyway when
   * no message in process is still working towards one.
   */
  alertWindowMs?: number;
  /** Most alerts waiting at once (default {@link ALERT_CAP}). */
  alertCap?: number;
}

/**
 * Types the centre receives but does not analyse: workflow escalations and case-query answers are
 * for its supervisors (another process of the agency consumes them), training offers carry nothing to correlate,
 * receipts of the centre's own retracted alerts are the exchange's record (`retract --status`).
 */
export const CENTRE_SKIPPED_TYPES: readonly string[] = ['WorkflowEscalation', 'CaseQueryResult', 'TrainingOffer', 'RetractionReceipt'];

const DAY_MS = 86_400_000;

/**
 * Start the multiagency centre (¶17): consume what the policy lets the centre receive, extract the
 * correlatable values of each message and record each occurrence in the correlation bucket
 * (compare-and-set, idempotent by message id); when a value is held by two agencies (or one agency
 * in two cases), send each involved agency that may receive CorrelationAlert its own alert, built
 * only from what that agency may see ({@link planAlert}), at the tier the policy gives it. Alert ids
 * derive from the triggering message, so a redelivery after a crash re-sends the same ids (dropped
 * as duplicates). Strategic reports are built from the facts kept per message: on a schedule
 * (broadcast) and on demand. A Retraction from a message's sender drops what stood on it
 * (occurrences, facts, alerts: {@link applyRetraction}).
 */
export async function startCentre(o: CentreOptions): Promise<Centre> {
  const client = o.client;
  const clock = o.clock ?? systemClock;
  const logger = (o.logger ?? silentLogger()).child({ service: 'centre', agency: client.id });
  const bucket = agencyBuckets(client.policy, client.id).find((b) => b.kind === 'kv' && b.name === 'correlations');
  if (!bucket) throw new LiaisonError('ERR_CONFIG_INVALID', `${client.id} keeps no "correlations" KV bucket under the policy (give its role state: { kv: [correlations] })`);
  await migrateCentreFacts(client.nc, bucket.bucket, logger);
  // Writes acknowledged on the agency's inbox (no request per record or facts write); the writer ends with the connection.
  const store = await CorrelationStore.open(client.nc, bucket.bucket, { inboxPrefix: inboxPrefix(client.id) });
  const stats: CentreStats = {
    processed: 0,
    replayed: 0,
    occurrences: 0,
    alerts: 0,
    withheld: 0,
    undeliverable: 0,
    reports: 0,
    alertsMerged: 0,
    retracted: 0,
    retractionsRefused: 0,
    retractionsUnknown: 0,
    alertsRetracted: 0,
    alertsCorrected: 0,
  };
  const periodMs = o.reportPeriodMs ?? DEFAULT_PERIOD_MS;

  const writer = new EntityWriter(store);
  const alerts = new AlertCoalescer({
    send: (a) => deliverAlert({ client, stats, logger }, a),
    // Replaced alerts come off with the value's next write (a hot value's is soon), not in a write of their own.
    forget: async (hash, ids, background) => void (await writer.update(hash, forgetAlerts(ids), { later: background })),
    hurry: () => writer.hurry(),
    windowMs: o.alertWindowMs,
    cap: o.alertCap,
    onError: (err) => logger.warn({ err }, 'taking replaced alerts off a record failed; the record lists them until its next change'),
  });
  const correlation: CorrelateContext = { client, writer, logger, stats, now: () => clock.now(), alerts };

  /**
   * Handle one message: skip it if handled before (its facts exist), extract its values, correlate
   * each (in parallel: different values are independent; writes to one value are ordered and batched
   * by the {@link EntityWriter}), wait for the alerts they called for (coalesced: {@link AlertCoalescer}),
   * then write its facts, the mark that it was fully handled. Every write and every alert is durable
   * before this resolves, so the SDK's acknowledgement never precedes it.
   */
  async function handle(msg: ReceivedMessage): Promise<void> {
    if ((msg.delivery?.deliveryCount ?? 1) <= 1) o.observe?.(msg);
    if (msg.type === 'Retraction') {
      await applyRetraction(retractions, msg);
      return;
    }
    // Working towards alerts: while any handler is, waiting alerts may yet be replaced by newer ones.
    const release = alerts.hold();
    try {
      await correlate(msg, release);
    } finally {
      release();
    }
  }

  /** {@link handle} of a message the centre analyses; `release` says it offered every alert it will. */
  async function correlate(msg: ReceivedMessage, release: () => void): Promise<void> {
    if (await store.facts(msg.header.sender, msg.header.id)) {
      stats.replayed++;
      return;
    }
    const { entities, context } = extractEntities(client.catalog.get(msg.type), msg.body);
    const base = {
      messageId: msg.header.id,
      type: msg.type,
      agency: msg.header.sender,
      recipient: msg.header.recipient,
      caseRef: msg.header.caseRef,
      sentAt: msg.header.createdAt.toISOString(),
      handling: msg.header.handling,
      tlp: msg.header.tlp,
      context: context.slice(0, 16).map((c) => ({ key: c.key, tier: c.tier })),
    };
    const hashes = entities.map((e) => entityHash(e.key));
    const recorded = await settleAll(entities.map((e, i) => recordEntity(correlation, msg, e, hashes[i]!, base)));
    release();
    await settleAll(recorded.map((r) => r.alerted));
    stats.alertsMerged = alerts.stats.merged;
    await store.putFacts({ ...extractFacts(msg, entities.length), entityHashes: hashes });
    stats.processed++;
  }

  async function report(req: ReportRequest = {}): Promise<CentreReport> {
    const periodEnd = req.periodEnd ?? clock.now();
    const { figures, body } = await composeReport(store, { agency: client.id, periodEnd, periodMs: req.periodMs ?? periodMs, now: clock.now(), minPublicCount: o.minPublicCount });
    if (!req.publish) return { figures, body };
    const id = req.id ?? derivedUuidv7(periodEnd, 'strategic-report', client.id, String(req.periodMs ?? periodMs));
    await client.send('StrategicReport', body, { id });
    stats.reports++;
    logger.info({ msgId: id, sources: figures.sourceMessages.count }, 'strategic report published');
    return { figures, body, published: id };
  }

  const skipped = new Set(CENTRE_SKIPPED_TYPES);
  const types = o.types ?? [...new Set(client.consumerSpecs().map((s) => s.type))].filter((t) => !skipped.has(t));
  const retractions = {
    client,
    store,
    clock,
    logger,
    stats,
    analyses: (type: string) => types.includes(type) && type !== 'Retraction',
    waitMs: o.retractionWaitMs ?? 2_000,
    // Alerts still waiting go out first, so the retraction sees every listed alert sent.
    settleAlerts: () => alerts.settle(),
  };
  const concurrency = o.concurrency ?? CENTRE_CONCURRENCY;
  // Hold as many copies as run at once (the SDK never runs more than it holds).
  await client.consume(handle, { types, concurrency, maxInFlight: Math.max(concurrency, MAX_IN_FLIGHT) });

  const every = o.reportEveryMs ?? DAY_MS;
  let scheduled: Promise<unknown> | undefined;
  const timer =
    every > 0
      ? setInterval(() => {
          // Period end aligned to the schedule: replicas and restarts publish the same id (de-duplicated).
          const end = Math.floor(clock.now() / every) * every;
          scheduled ??= report({ periodEnd: end, publish: true })
            .catch((err) => logger.warn({ err }, 'scheduled report failed'))
            .finally(() => (scheduled = undefined));
        }, every)
      : undefined;
  timer?.unref();
  logger.info({ bucket: bucket.bucket, types }, 'multiagency centre started');

  return {
    stats,
    store,
    report,
    async stop() {
      if (timer) clearInterval(timer);
      await scheduled;
      // Bounded: the waiting alerts are sent, not awaited (their messages are acknowledged only once they
      // are out; a stop that closes the client first leaves those messages in JetStream, to plan them again).
      alerts.flush();
      writer.hurry();
    },
  };
}
