/**
 * Retraction and correction, SDK side: the request/reply protocol with the exchange's retraction
 * service (`liaison.v1.svc.exchange.retract.<agency>`, which only the agency may call), sending one
 * signed Retraction directed to every agency that received the original, and the receiving end —
 * hand a Retraction to the handler, then acknowledge it with a signed RetractionReceipt, and drop
 * any late delivery of a retracted message.
 *
 * Ids are derived (derivedUuidv7), so a repeated `retract` or receipt is de-duplicated by JetStream
 * and receivers, and the exchange can name the receipt it expects from each recipient without
 * decoding bodies.
 *
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { MessageHeader } from '../envelope/header.ts';
import type { ReceivedMessage } from '../envelope/open.ts';
import type { SendOptions } from '../envelope/seal.ts';
import { asLiaisonError, ERROR_CODES, LiaisonError, type ErrorCode } from '../errors.ts';
import { derivedUuidv7, isUuidv7, uuidv7 } from '../ids.ts';
import type { Logger } from '../logging.ts';
import { retractSubject } from '../subjects.ts';
import type { Tier } from '../tier.ts';
import { messageKey, type Handler, type SeenIds } from './consume.ts';

/** What an agency asks its exchange: retract one of its messages, or the receipts of a retraction. */
export type RetractRequest = { op: 'retract'; originalId: string; reason: string; replacedBy?: string } | { op: 'status'; originalId: string };

/** One agency that received a copy of the retracted message. */
export interface RetractionRecipient {
  agency: string;
  /** Tier of the copy it received. */
  tier: Tier;
  /** Header id of the Retraction directed to it. */
  retractionId: string;
  /** Header id of the RetractionReceipt it answers with. */
  receiptId: string;
  /** When the exchange stored its receipt (status answers only). */
  acknowledgedAt?: string;
}

/** The exchange's record of a retraction (header facts, never bodies). */
export interface RetractionRecord {
  originalId: string;
  /** Short type name, e.g. DocumentReport. */
  originalType: string;
  sender: string;
  /** The original's recipient token (an agency id or `all`). */
  originalRecipient: string;
  handling: MessageHeader['handling'];
  tlp: MessageHeader['tlp'];
  caseRef: string;
  correlationId: string;
  reason: string;
  /** For a correction: the id of the message that replaces the original. */
  replacedBy?: string;
  retractedAt: string;
  /** The copies the exchange deleted from its stream. */
  copies: { tier: Tier; subject: string; stream: string; seq: number }[];
  /** Agencies a copy had been delivered to: each gets a Retraction and owes a receipt. */
  recipients: RetractionRecipient[];
  /** Agencies whose consumer covered a copy but had not read it: it was deleted before they did. */
  withheld: string[];
}

/** The exchange's answer. */
export type RetractReply = { ok: true; record: RetractionRecord } | { ok: false; error: string };

/** Header id of the Retraction of `sender`'s message `originalId` directed to `agency` (stable for one retraction). */
export function retractionIdFor(retractedAt: string, sender: string, originalId: string, agency: string): string {
  return derivedUuidv7(Date.parse(retractedAt), 'retraction', sender, originalId, agency);
}

/** Header id of the receipt `agency` sends for the Retraction `retractionId`. */
export function receiptIdFor(retractionId: string, agency: string): string {
  return derivedUuidv7(retractionId, 'retraction-receipt', agency);
}

/** The outcome of {@link retractMessage}: the record, and the recipients the Retraction could not be sent to. */
export interface RetractOutcome {
  record: RetractionRecord;
  /** The Retraction ids sent, by recipient. */
  sent: Record<string, string>;
  failed: { agency: string; code: ErrorCode; reason: string }[];
}

/** What retraction needs from a connected client. */
export interface RetractHost {
  id: string;
  nc: NatsConnection;
  send(type: string, body: unknown, opts: SendOptions): Promise<unknown>;
}

/** Ask the exchange's retraction service; a refusal becomes the typed error it names. */
export async function askExchange(host: Pick<RetractHost, 'id' | 'nc'>, req: RetractRequest): Promise<RetractionRecord> {
  let text: string;
  try {
    text = (await host.nc.request(retractSubject(host.id), JSON.stringify(req), { timeout: 15_000 })).string();
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'the exchange did not answer the retraction request');
  }
  const reply = JSON.parse(text) as RetractReply;
  if (!reply.ok) {
    const code = reply.error.split(':')[0]!;
    throw new LiaisonError(code in ERROR_CODES ? (code as ErrorCode) : 'ERR_EXCHANGE', reply.error.slice(code.length + 1).trim() || reply.error, { id: req.originalId });
  }
  return reply.record;
}

function checkId(id: string): void {
  if (!isUuidv7(id)) throw new LiaisonError('ERR_USAGE', `"${id}" is not a message id (a UUIDv7)`, { id });
}

/**
 * Retract a message this agency sent: the exchange deletes its copies (no consumer or replay delivers
 * it again) and names who had received it; each of them gets a signed Retraction directed to it.
 * Repeating a retraction re-sends the same Retractions (same ids; receivers drop the repeat).
 */
export async function retractMessage(host: RetractHost, originalId: string, reason: string, replacedBy?: string): Promise<RetractOutcome> {
  checkId(originalId);
  const record = await askExchange(host, { op: 'retract', originalId, reason, ...(replacedBy ? { replacedBy } : {}) });
  return await sendRetractions(host, record);
}

/** Send the Retraction of `record` to each of its recipients. */
export async function sendRetractions(host: RetractHost, record: RetractionRecord): Promise<RetractOutcome> {
  const sent: Record<string, string> = {};
  const failed: RetractOutcome['failed'] = [];
  const body = { originalId: record.originalId, originalType: record.originalType, reason: record.reason, replacedBy: record.replacedBy ?? '' };
  for (const r of record.recipients) {
    try {
      await host.send('Retraction', body, { to: r.agency, id: r.retractionId, causationId: record.originalId, correlationId: record.correlationId, caseRef: record.caseRef });
      sent[r.agency] = r.retractionId;
    } catch (err) {
      const e = asLiaisonError(err, 'ERR_PUBLISH');
      failed.push({ agency: r.agency, code: e.code, reason: e.message });
    }
  }
  return { record, sent, failed };
}

/** The outcome of {@link correctMessage}: the retraction, and the id of the corrected message. */
export interface CorrectOutcome extends RetractOutcome {
  correctedId: string;
}

/**
 * Correct a message this agency sent: the exchange retracts the original (recording the id of its
 * replacement), the corrected body goes out as a new message of the original's type to the original's
 * recipient (an agency, or `all` again) with the original's markings and `causation_id` = the
 * original, then every prior recipient gets a Retraction naming the replacement. Repeating a
 * correction re-sends the same replacement id (de-duplicated).
 */
export async function correctMessage(host: RetractHost, originalId: string, body: unknown, reason = 'corrected'): Promise<CorrectOutcome> {
  checkId(originalId);
  const record = await askExchange(host, { op: 'retract', originalId, reason, replacedBy: uuidv7() });
  const correctedId = record.replacedBy;
  if (!correctedId) throw new LiaisonError('ERR_RETRACT_UNKNOWN', `${originalId} was already retracted without a replacement; send the corrected message anew`, { id: originalId });
  await host.send(record.originalType, body, {
    to: record.originalRecipient,
    id: correctedId,
    causationId: originalId,
    handling: record.handling,
    tlp: record.tlp,
    caseRef: record.caseRef,
    correlationId: record.correlationId,
  });
  return { ...(await sendRetractions(host, record)), correctedId };
}

/** What the receiving wrapper needs. */
export interface RetractionReceiver {
  id: string;
  /** Messages retracted, as `<sender> <id>` (a late delivery of one is dropped). */
  retracted: SeenIds;
  send(type: string, body: unknown, opts: SendOptions): Promise<unknown>;
  logger: Logger;
}

/**
 * Wrap a handler: a Retraction goes to the handler like any message, then its original is
 * remembered as retracted and a signed RetractionReceipt goes back to the sender (a failed receipt
 * fails the delivery, so the Retraction is redelivered and acknowledged again); a message already
 * retracted is dropped without reaching the handler. A message is dropped only when the Retraction
 * came from its own sender: anyone may send a Retraction, and a forged one must not suppress
 * another agency's message.
 */
export function receivingRetractions(r: RetractionReceiver, handler: Handler): Handler {
  return (msg: ReceivedMessage) => {
    if (r.retracted.has(messageKey(msg.header))) {
      r.logger.info({ msgId: msg.header.id, type: msg.type }, 'dropped a delivery of a retracted message');
      return;
    }
    if (msg.type !== 'Retraction') return handler(msg);
    return (async () => {
      await handler(msg);
      const originalId = String(msg.body.originalId ?? '');
      // The original is the Retraction's sender's own message: never another sender's with the same id.
      if (originalId) r.retracted.add(messageKey({ sender: msg.header.sender, id: originalId }));
      await r.send(
        'RetractionReceipt',
        { retractionId: msg.header.id, originalId, status: 'RETRACTION_OUTCOME_APPLIED' },
        { to: msg.header.sender, id: receiptIdFor(msg.header.id, r.id), causationId: msg.header.id, correlationId: originalId },
      );
    })();
  };
}

/** A retraction's receipts, per recipient (`liaison retract --status`). */
export async function retractionStatus(host: Pick<RetractHost, 'id' | 'nc'>, originalId: string): Promise<RetractionRecord> {
  checkId(originalId);
  return await askExchange(host, { op: 'status', originalId });
}
