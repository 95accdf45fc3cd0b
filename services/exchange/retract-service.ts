import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { RequestVerifier } from '../audit/requester.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../sdk/envelope/codec.ts';
import { LiaisonError, asLiaisonError } from '../sdk/errors.ts';
import { isUuidv7 } from '../sdk/ids.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileConsumers, compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { subjectMatches } from '../sdk/policy/subject-match.ts';
import { receiptIdFor, retractionIdFor, type RetractReply, type RetractRequest, type RetractionRecipient, type RetractionRecord } from '../sdk/client/retract.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import { QUARANTINE_STREAM, RETRACT_SUBJECTS, SUBJECT_ROOT, parseMessageSubject, streamName } from '../sdk/subjects.ts';
import { findCopies, scan, type OwnCopy } from './retract-copies.ts';
import { migrateRetractions } from './migrate-retractions.ts';
import type { ExchangeServiceHost } from './service-host.ts';

/** The exchange's KV bucket of retraction records (key: {@link retractionKey}). */
export const RETRACTIONS_BUCKET = 'LIAISON_RETRACTIONS';

/** Key of the record of a retraction of `sender`'s message `id`: a message is (sender, id), never id alone. */
export function retractionKey(sender: string, id: string): string {
  return `${sender}.${id}`;
}

/** The family of the control messages, which cannot themselves be retracted. */
const CONTROL_FAMILY = 'control';

/** How far before a message's UUIDv7 time its copies are looked for (sender clock skew). */
const SKEW_MS = 10 * 60_000;

/** Milliseconds of a UUIDv7. */
function uuidTime(id: string): number {
  return parseInt(id.replaceAll('-', '').slice(0, 12), 16);
}

/** The stored record of `sender`'s retraction of `id`, if any. */
async function readRecord(kv: KV | undefined, sender: string, id: string): Promise<RetractionRecord | undefined> {
  const e = await kv?.get(retractionKey(sender, id));
  return e && e.operation === 'PUT' ? (JSON.parse(e.string()) as RetractionRecord) : undefined;
}

/** The senders that retracted a message of theirs with id `id`. */
async function retractingSenders(kv: KV | undefined, id: string): Promise<string[]> {
  if (!kv) return [];
  const senders: string[] = [];
  for await (const k of await kv.keys(retractionKey('*', id))) senders.push(k.slice(0, k.length - id.length - 1));
  return senders.sort();
}

/**
 * The exchange's record of `sender`'s retraction of its message `id`, with each recipient's receipt
 * (a RetractionReceipt with the id derived for it, found in the control stream under the
 * recipient's own sender token); undefined when it was never retracted. For the exchange
 * administrator (`liaison explain`) and the retraction service (which asks only for the caller's own).
 */
export async function retractionWithReceipts(nc: NatsConnection, sender: string, id: string): Promise<RetractionRecord | undefined> {
  const kv = await new Kvm(nc).open(RETRACTIONS_BUCKET).catch(() => undefined);
  const record = await readRecord(kv, sender, id);
  if (!record) return undefined;
  const expected = new Map(record.recipients.map((r) => [r.receiptId, r]));
  const acked = new Map<string, string>();
  const jsm = await jetstreamManager(nc);
  const filter = `${SUBJECT_ROOT}.operational.${CONTROL_FAMILY}.RetractionReceipt.*.${record.sender}`;
  await scan(nc, jsm, streamName(CONTROL_FAMILY), Date.parse(record.retractedAt) - SKEW_MS, (m) => {
    const r = expected.get(m.header('ce-id') ?? '');
    // The sender token is the broker's guarantee of who acknowledged.
    if (r && parseMessageSubject(m.subject)?.sender === r.agency && !acked.has(r.agency)) acked.set(r.agency, m.storedAt);
  }, filter);
  return { ...record, recipients: record.recipients.map((r) => (acked.has(r.agency) ? { ...r, acknowledgedAt: acked.get(r.agency)! } : r)) };
}

/**
 * The exchange's retraction service, the delivery record of `liaison retract`. An agency asks on its
 * own `liaison.v1.svc.exchange.retract.<agency>` subject (only it may publish there, so the broker
 * authenticates the caller). A message is (sender, id): the caller can only ever name its own.
 * - `retract`: find the caller's own copies of the message in every family stream — the sender token
 *   of their subject (which the broker guarantees) and their verified signer both the caller (see
 *   retract-copies.ts); another agency's message with the same id is never touched. Work out which
 *   agencies a copy was delivered to (consumers whose filter covers it and whose delivered sequence
 *   reached it), delete the copies (no consumer and no replay delivers them again), record the
 *   retraction in {@link RETRACTIONS_BUCKET} under (caller, id) and answer with it. Asking again
 *   answers the same record.
 * - `status`: the caller's record, with each recipient's receipt (a RetractionReceipt with the id
 *   derived for it, found in the control stream under the recipient's own sender token).
 */
export function startRetractService(o: { nc: NatsConnection; host: ExchangeServiceHost; trustDir: string; policy: () => Policy; catalog: TypeCatalog; logger?: Logger }): void {
  let codec: EnvelopeCodec | undefined;
  let kv: Promise<KV> | undefined;
  let verifier: Promise<RequestVerifier> | undefined;
  // Records written before they were keyed by (sender, id) move to their new key first. A failed attempt is
  // forgotten (whoever made it): the next request tries again, so the service recovers when the cause goes.
  const open = (): Promise<KV> => {
    const attempt = new Kvm(o.nc).create(RETRACTIONS_BUCKET, { history: 1 }).then(async (b) => (await migrateRetractions(o.nc, b, o.logger), b));
    attempt.catch((err: unknown) => {
      if (kv === attempt) kv = undefined;
      o.logger?.warn({ err }, 'could not open or migrate the retraction records; trying again on the next request');
    });
    return attempt;
  };
  const bucket = () => (kv ??= open());
  void bucket().catch(() => undefined);

  // The refusal names no other sender: the caller may not be allowed to know that agency exchanged anything.
  const notSender = (agency: string, id: string) =>
    new LiaisonError('ERR_RETRACT_NOT_SENDER', `${agency} sent no message ${id}: only the original sender may retract or correct it`);

  /** The caller's own record, or the typed refusal: another sender's record, or none. */
  const own = async (agency: string, id: string): Promise<RetractionRecord> => {
    const record = await readRecord(await bucket(), agency, id);
    if (record) return record;
    const others = await retractingSenders(await bucket(), id);
    if (others.length) throw notSender(agency, id);
    throw new LiaisonError('ERR_RETRACT_UNKNOWN', `the exchange holds no retraction of ${id} by ${agency}`);
  };

  /** Step 1: the caller's own copies of `id` in the family streams; a refusal when it has none. */
  const ownCopies = async (agency: string, id: string): Promise<OwnCopy[]> => {
    const streams = compileStreams(o.policy(), o.catalog)
      .map((s) => s.name)
      .filter((n) => n !== QUARANTINE_STREAM && n !== streamName(CONTROL_FAMILY));
    const found = await findCopies(
      { nc: o.nc, jsm: await jetstreamManager(o.nc), streams, fromMs: uuidTime(id) - SKEW_MS, verifier: await (verifier ??= RequestVerifier.open(o.trustDir, o.catalog)), codec: (codec ??= createEnvelopeCodec(loadCatalog().envelopeTypes)) },
      agency,
      id,
    );
    if (found.own.length > 0) return found.own;
    const others = new Set([...found.others, ...(await retractingSenders(await bucket(), id))]);
    if (others.size) throw notSender(agency, id);
    throw new LiaisonError('ERR_RETRACT_UNKNOWN', `the exchange holds no message ${id} of ${agency} (never sent, already expired, or a control message)`);
  };

  /** Step 2: who had received a copy (gets a Retraction, owes a receipt), and who was withheld (its consumer had not read it). */
  const deliveries = async (sender: string, id: string, copies: OwnCopy[], retractedAt: string) => {
    const jsm = await jetstreamManager(o.nc);
    const recipients = new Map<string, RetractionRecipient>();
    const withheld = new Set<string>();
    const consumers = compileConsumers(o.policy(), o.catalog);
    for (const { copy, subject } of copies) {
      for (const c of consumers) {
        if (c.agency === sender || c.stream !== copy.stream || !subjectMatches(c.filterSubject, copy.subject)) continue;
        const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
        if (info && info.delivered.stream_seq >= copy.seq) {
          const retractionId = retractionIdFor(retractedAt, sender, id, c.agency);
          if (!recipients.has(c.agency)) recipients.set(c.agency, { agency: c.agency, tier: subject.tier, retractionId, receiptId: receiptIdFor(retractionId, c.agency) });
        } else withheld.add(c.agency);
      }
    }
    for (const a of recipients.keys()) withheld.delete(a);
    return { recipients: [...recipients.values()].sort((a, b) => a.agency.localeCompare(b.agency)), withheld: [...withheld].sort() };
  };

  const retract = async (agency: string, req: Extract<RetractRequest, { op: 'retract' }>): Promise<RetractionRecord> => {
    const existing = await readRecord(await bucket(), agency, req.originalId);
    if (existing) return existing;
    const copies = await ownCopies(agency, req.originalId);
    const jsm = await jetstreamManager(o.nc);
    for (const { copy } of copies) await jsm.streams.deleteMessage(copy.stream, copy.seq, false);
    const retractedAt = new Date().toISOString();
    const { header, subject } = copies[0]!;
    const record: RetractionRecord = {
      originalId: req.originalId,
      originalType: subject.type,
      sender: agency,
      originalRecipient: subject.recipient,
      handling: header.handling,
      tlp: header.tlp,
      caseRef: header.caseRef,
      correlationId: header.correlationId,
      reason: String(req.reason ?? ''),
      ...(req.replacedBy ? { replacedBy: req.replacedBy } : {}),
      retractedAt,
      copies: copies.map(({ copy, subject: s }) => ({ tier: s.tier, subject: copy.subject, stream: copy.stream, seq: copy.seq })),
      ...(await deliveries(agency, req.originalId, copies, retractedAt)),
    };
    try {
      await (await bucket()).create(retractionKey(agency, req.originalId), JSON.stringify(record));
    } catch {
      // A concurrent request recorded it first (the copies are gone either way): answer that record.
      return await own(agency, req.originalId);
    }
    o.logger?.info({ agency, msgId: req.originalId, recipients: record.recipients.length, withheld: record.withheld.length }, 'message retracted');
    return record;
  };

  const status = async (agency: string, id: string): Promise<RetractionRecord> => {
    await own(agency, id);
    return (await retractionWithReceipts(o.nc, agency, id))!;
  };

  o.host.listen('retract', RETRACT_SUBJECTS, async (msg, agency) => {
    const reply = await (async (): Promise<RetractReply> => {
      let req: RetractRequest;
      try {
        req = JSON.parse(msg.string()) as RetractRequest;
        if (!req || (req.op !== 'retract' && req.op !== 'status') || typeof req.originalId !== 'string' || !isUuidv7(req.originalId)) throw new Error('expected {"op": "retract"|"status", "originalId": UUIDv7}');
      } catch (e) {
        return { ok: false, error: `ERR_BODY_INVALID: ${(e as Error).message}` };
      }
      const record = req.op === 'retract' ? await retract(agency, req) : await status(agency, req.originalId);
      return { ok: true, record };
    })().catch((e: unknown): RetractReply => ({ ok: false, error: asLiaisonError(e, 'ERR_EXCHANGE').toLine() }));
    return { data: JSON.stringify(reply) };
  });
}
