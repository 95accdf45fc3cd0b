import type { LiaisonClient } from '../sdk/client/client.ts';
import type { CryptoPool } from '../sdk/crypto/pool.ts';
import type { Reply } from '../sdk/client/rpc.ts';
import type { Clock } from '../sdk/clock.ts';
import { systemClock } from '../sdk/clock.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { isLiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { checkAdmission, type AdmissionConfig } from './admission.ts';
import { AlertedRanges, alertedNote, type AlertMatch } from './alerted-ranges.ts';
import { applyDocumentBatch } from './import/apply-batch.ts';
import { normaliseCountry, normaliseDocumentNumber } from './index/normalise.ts';
import type { PersonAlerts } from './persons.ts';
import { isHitStatus, type DocumentStatusName, type DocumentStore } from './store.ts';

/** Counters a registry exposes (`liaison registry stats`). */
export interface RegistryStats {
  reports: number;
  /** Records and alerts dropped because their report was retracted. */
  withdrawn: number;
  statusChanges: number;
  alerts: number;
  refused: number;
  unchanged: number;
  checks: number;
  hits: number;
  hitNotices: number;
  /** Checks refused busy because the registry had its limit of checks in process (issue 16). */
  busyFull: number;
  /** Checks refused busy because they had waited longer than the admission bound. */
  busyLate: number;
}

/** A running registry: consumes reports, answers checks, notifies owners of hits. */
export interface Registry {
  readonly stats: RegistryStats;
  readonly store: DocumentStore;
  /** Number ranges of the forgery alerts received (¶12): checks in them are flagged. */
  readonly alerted: AlertedRanges;
  /**
   * Run `fn` while no report, status change or alert is being applied: new ones wait (in their consumers)
   * until it settles; checks are answered meanwhile. For consistent snapshots without stopping the service.
   */
  quiesce<T>(fn: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** The message types the registry consumes (Retraction: a sender withdrawing a report or alert). */
export const REGISTRY_TYPES = ['DocumentReport', 'DocumentStatusChange', 'PersonAlert', 'DocumentReportBatch', 'ForgeryAlert', 'Retraction'];

const STATUS_PREFIX = 'DOCUMENT_STATUS_';
const TYPE_PREFIX = 'DOCUMENT_TYPE_';

function statusOf(value: unknown): DocumentStatusName | undefined {
  const s = typeof value === 'string' && value.startsWith(STATUS_PREFIX) ? value.slice(STATUS_PREFIX.length) : '';
  return ['LOST', 'STOLEN', 'FRAUDULENT', 'RECOVERED', 'CANCELLED'].includes(s) ? (s as DocumentStatusName) : undefined;
}

function typeOf(value: unknown): string {
  return typeof value === 'string' && value.startsWith(TYPE_PREFIX) ? value.slice(TYPE_PREFIX.length) : 'UNSPECIFIED';
}

/**
 * Start the ¶16 document registry on an agency connection whose roles receive document reports and
 * serve DocumentCheckRequest. Only an agency of the issuing country may add, change or cancel a
 * record (INTERPOL's rule): others get a signed RegistryRefusal, never a silent drop. A check that
 * hits sends a DocumentHitNotice to the record's owner at the tier the policy gives it.
 */
export async function startRegistry(o: {
  client: LiaisonClient;
  store: DocumentStore;
  /** Person alerts (keyed-hash index); same key as the document store. */
  persons: PersonAlerts;
  logger?: Logger;
  clock?: Clock;
  /** Called with every report the registry consumed, after applying it (simulations, audit). */
  observe?: (msg: ReceivedMessage) => void;
  /** Forgery-alert ranges (default: empty, filled from the ForgeryAlerts consumed). */
  alerted?: AlertedRanges;
  /** Bounded admission of checks: a check beyond it is refused ERR_BUSY with the signed busy statement (see admission.ts). */
  admission?: AdmissionConfig;
  /** Verify checks on this pool's worker threads (default: the client's own pool, if it has one). */
  cryptoPool?: CryptoPool;
}): Promise<Registry> {
  const { client, store } = o;
  const logger = (o.logger ?? silentLogger()).child({ service: 'registry' });
  const clock = o.clock ?? systemClock;
  const stats: RegistryStats = { reports: 0, withdrawn: 0, statusChanges: 0, alerts: 0, refused: 0, unchanged: 0, checks: 0, hits: 0, hitNotices: 0, busyFull: 0, busyLate: 0 };

  const alerted = o.alerted ?? new AlertedRanges();
  const countryOf = (agency: string) => client.policy.agencies[agency]?.country;
  const changeBy = (msg: ReceivedMessage) => ({ id: msg.header.id, by: msg.header.sender });

  const refuse = async (msg: ReceivedMessage, code: string, reason: string) => {
    stats.refused++;
    logger.warn({ sender: msg.header.sender, msgId: msg.header.id, type: msg.type, code }, `record refused: ${reason}`);
    await client.send(
      'RegistryRefusal',
      { refusedMessageId: msg.header.id, refusedType: msg.header.type, code, reason, refusedAt: new Date(clock.now()).toISOString() },
      { to: msg.header.sender, causationId: msg.header.id, caseRef: msg.header.caseRef },
    );
  };

  // One report or status change: `msg` itself, or (batches) one report of it with the refusal collected by `refuseWith`.
  const apply = async (msg: ReceivedMessage, body: Record<string, unknown> = msg.body, type: string = msg.type, refuseWith = refuse) => {
    let country: string;
    let number: string;
    try {
      country = normaliseCountry(String(body.issuingCountry ?? ''));
      number = normaliseDocumentNumber(String(body.documentNumber ?? ''));
    } catch (err) {
      return await refuseWith(msg, isLiaisonError(err) ? err.code : 'ERR_BODY_INVALID', (err as Error).message);
    }
    const senderCountry = countryOf(msg.header.sender);
    if (senderCountry !== country) {
      return await refuseWith(
        msg,
        'ERR_NOT_ISSUING_COUNTRY',
        `only an agency of ${country} may add, change or cancel ${country} documents; ${msg.header.sender} is of ${senderCountry ?? 'no known country'}`,
      );
    }
    const existing = store.get(country, number);
    if (type === 'DocumentReport') {
      const status = statusOf(body.status);
      if (!status) return await refuseWith(msg, 'ERR_BODY_INVALID', 'a document report needs a status (lost, stolen, fraudulent, recovered or cancelled)');
      const outcome = store.upsert(country, number, { status, type: typeOf(body.documentType), owner: msg.header.sender, reference: existing?.reference ?? msg.header.id }, changeBy(msg));
      stats.reports++;
      if (outcome === 'unchanged') stats.unchanged++;
      return;
    }
    const status = statusOf(body.newStatus);
    if (!status) return await refuseWith(msg, 'ERR_BODY_INVALID', 'a status change needs new_status');
    if (!existing) return await refuseWith(msg, 'ERR_RECORD_UNKNOWN', `no ${country} record for this document number to change`);
    if (existing.owner !== msg.header.sender && countryOf(existing.owner) !== senderCountry) {
      return await refuseWith(msg, 'ERR_NOT_ISSUING_COUNTRY', `the record belongs to ${existing.owner}`);
    }
    store.upsert(country, number, { ...existing, status }, changeBy(msg));
    stats.statusChanges++;
  };

  const check = async (req: ReceivedMessage): Promise<Reply> => {
    stats.checks++;
    const country = normaliseCountry(String(req.body.issuingCountry ?? ''));
    const number = normaliseDocumentNumber(String(req.body.documentNumber ?? ''));
    const rec = store.get(country, number);
    const checkedAt = new Date(clock.now()).toISOString();
    const alerts = alerted.match(country, req.body.documentType, number);
    const forgeryAlerts = alerts.map((a) => alertedNote(a.reference));
    const flagged = forgeryAlerts.length > 0 ? { forgeryAlerts } : {};
    if ((!rec || !isHitStatus(rec.status)) && alerts.length > 0) return alertedHit(req, country, number, checkedAt, alerts);
    if (!rec || !isHitStatus(rec.status)) {
      return {
        type: 'DocumentCheckResult',
        body: { requestId: req.header.id, outcome: 'CHECK_OUTCOME_NO_HIT', checkedAt, ...(rec ? { status: STATUS_PREFIX + rec.status, recordOwnerCountry: country } : {}) },
      };
    }
    stats.hits++;
    notifyHit(req, country, number, checkedAt, rec.reference, rec.owner);
    return {
      type: 'DocumentCheckResult',
      body: {
        requestId: req.header.id,
        outcome: 'CHECK_OUTCOME_HIT',
        status: STATUS_PREFIX + rec.status,
        recordOwnerCountry: country,
        recordReference: rec.reference,
        instructions: 'Retain the document and contact the issuing authority through its national central bureau.',
        checkedAt,
        ...flagged,
      },
    };
  };

  /**
   * Tell the owner of the record (or the agency whose forgery alert names the series) where its document turned up:
   * a DocumentHitNotice caused by the check. Sent without holding up the answer; a failed send is logged.
   */
  const notifyHit = (req: ReceivedMessage, country: string, number: string, checkedAt: string, reference: string, to: string): void => {
    void client
      .send(
        'DocumentHitNotice',
        {
          recordReference: reference,
          documentNumber: number,
          issuingCountry: country,
          checkingAgency: req.header.sender,
          checkCountry: countryOf(req.header.sender) ?? '',
          checkLocation: String(req.body.checkLocation ?? ''),
          checkedAt,
          presenterName: String(req.body.presenterName ?? ''),
        },
        { to, causationId: req.header.id, caseRef: req.header.caseRef },
      )
      .then(() => void stats.hitNotices++)
      .catch((err: unknown) => logger.warn({ err, to, recordReference: reference }, 'hit notice not delivered'));
  };

  /**
   * No record (or none that hits), but the number is in a series a forgery alert names: a hit on the alert,
   * as SLTD treats a stolen blank series — status fraudulent, the alert as the record — and each alerting
   * agency is told where its series turned up (a DocumentHitNotice naming its alert reference).
   */
  const alertedHit = (req: ReceivedMessage, country: string, number: string, checkedAt: string, alerts: AlertMatch[]): Reply => {
    stats.hits++;
    for (const a of alerts) notifyHit(req, country, number, checkedAt, a.reference, a.sender);
    const forgeryAlerts = alerts.map((a) => alertedNote(a.reference));
    return {
      type: 'DocumentCheckResult',
      body: {
        requestId: req.header.id,
        outcome: 'CHECK_OUTCOME_HIT',
        status: `${STATUS_PREFIX}FRAUDULENT`,
        recordOwnerCountry: country,
        recordReference: alerts[0]!.reference,
        instructions: `Number in a series alerted as forged (${forgeryAlerts.join('; ')}): examine the document for the alert's forgery features; retain it if they are present.`,
        checkedAt,
        forgeryAlerts,
      },
    };
  };

  // Reports being applied, and the gate quiesce() closes while a snapshot copies the state.
  let applying = 0;
  let gate: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  const quiesce = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (gate) await gate;
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    try {
      while (applying > 0) await new Promise<void>((r) => (drained = r));
      return await fn();
    } finally {
      drained = undefined;
      gate = undefined;
      open();
    }
  };

  await client.consume(
    async (msg) => {
      while (gate) await gate;
      applying++;
      try {
        await applyMessage(msg);
        o.observe?.(msg); // before the gate can close: a snapshot's positions never run ahead of its state
      } finally {
        if (--applying === 0) drained?.();
      }
    },
    { types: REGISTRY_TYPES },
  );
  async function applyMessage(msg: ReceivedMessage): Promise<void> {
    if (msg.type === 'DocumentReport' || msg.type === 'DocumentStatusChange') await apply(msg);
    else if (msg.type === 'DocumentReportBatch') await applyDocumentBatch(msg, (report, refuseRecord) => apply(msg, report, 'DocumentReport', refuseRecord), refuse);
    else if (msg.type === 'Retraction') withdraw(msg);
    else if (msg.type === 'ForgeryAlert') {
      try {
        const ranges = alerted.add(msg);
        logger.info({ sender: msg.header.sender, msgId: msg.header.id, ranges }, 'forgery alert ranges added');
      } catch (err) {
        await refuse(msg, isLiaisonError(err) ? err.code : 'ERR_BODY_INVALID', (err as Error).message);
      }
    }
    else if (msg.type === 'PersonAlert') {
      try {
        o.persons.apply(msg);
        stats.alerts++;
      } catch (err) {
        await refuse(msg, isLiaisonError(err) ? err.code : 'ERR_BODY_INVALID', (err as Error).message);
      }
    }
  }
  // A retracted report or alert stops hitting: the records it created are cancelled, the changes it
  // made undone, its alert dropped. Only the sender's own: anyone may send a Retraction.
  function withdraw(msg: ReceivedMessage): void {
    const id = String(msg.body.originalId ?? '');
    const type = String(msg.body.originalType ?? '');
    const sender = msg.header.sender;
    if (type === 'DocumentReport' || type === 'DocumentReportBatch' || type === 'DocumentStatusChange') {
      const w = store.withdraw(id, sender);
      stats.withdrawn += w.cancelled + w.restored;
      logger.info({ sender, msgId: id, type, ...w }, 'retracted by its sender: created records cancelled, changes undone');
    } else if (type === 'ForgeryAlert') {
      const dropped = alerted.withdraw(id, sender);
      logger.info({ sender, msgId: id, type, dropped }, 'retracted by its sender: its ranges no longer flag checks');
    } else if (type === 'PersonAlert') {
      const dropped = o.persons.withdraw(id, sender);
      stats.withdrawn += dropped ? 1 : 0;
      logger.info({ sender, msgId: id, type, dropped }, 'retracted by its sender');
    }
  }
  const checkPerson = (req: ReceivedMessage): Reply => {
    stats.checks++;
    const checkedAt = new Date(clock.now()).toISOString();
    const result = o.persons.check(req, countryOf, checkedAt);
    if (result.hit) {
      stats.hits++;
      const { owner, ref } = result.hit;
      void client
        .send(
          'PersonHitNotice',
          {
            alertReference: ref,
            checkingAgency: req.header.sender,
            checkCountry: countryOf(req.header.sender) ?? '',
            checkLocation: String(req.body.checkLocation ?? ''),
            checkedAt,
            encounteredSubject: req.body.subject,
            circumstances: `match score ${result.hit.score}: ${String((result.reply.body as { matchReasons?: string[] }).matchReasons?.join('; ') ?? '')}`,
          },
          { to: owner, causationId: req.header.id, caseRef: req.header.caseRef },
        )
        .then(() => void stats.hitNotices++)
        .catch((err: unknown) => logger.warn({ err, owner }, 'person hit notice not delivered'));
    }
    return result.reply;
  };
  // Admission counts every check from its arrival and refuses busy before verifying it (issue 16).
  const admission = checkAdmission(['DocumentCheckRequest', 'PersonCheckRequest'], { config: o.admission, clock, counters: stats });
  const serving = await client.serve({ DocumentCheckRequest: check, PersonCheckRequest: checkPerson }, { name: 'liaison-registry', admission, cryptoPool: o.cryptoPool });
  // Once the server has answered a flush it has registered the endpoints: a check sent after start returns
  // reaches this replica rather than finding no responders (the consumers may already have applied the tail).
  await client.nc.flush();
  logger.info({ agency: client.id }, 'registry up');
  return {
    stats,
    store,
    alerted,
    quiesce,
    async stop() {
      await serving.stop();
    },
  };
}

