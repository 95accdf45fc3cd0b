import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { createEnvelopeCodec, type EnvelopeCodec } from '../sdk/envelope/codec.ts';
import { LiaisonError, asLiaisonError } from '../sdk/errors.ts';
import { isUuidv7 } from '../sdk/ids.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileConsumers, compileStreams, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { subjectMatches } from '../sdk/policy/subject-match.ts';
import { receiptIdFor, retractionIdFor, type RetractReply, type RetractRequest, type RetractionRecipient, type RetractionRecord } from '../sdk/client/retract.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import { QUARANTINE_STREAM, RETRACT_SUBJECTS, SUBJECT_ROOT, parseMessageSubject, streamName } from '../sdk/subjects.ts';

/** The exchange's KV bucket of retraction records (key: the original's id). */
export const RETRACTIONS_BUCKET = 'LIAISON_RETRACTIONS';

/** The family of the control messages, which cannot themselves be retracted. */
const CONTROL_FAMILY = 'control';

/** How far before a message's UUIDv7 time its copies are looked for (sender clock skew). */
const SKEW_MS = 10 * 60_000;

const nanos = (ms: number) => ms * 1_000_000;

/** Milliseconds of a UUIDv7. */
function uuidTime(id: string): number {
  return parseInt(id.replaceAll('-', '').slice(0, 12), 16);
}

/** One stored message a scan visits (headers only). */
interface Seen {
  stream: string;
  seq: number;
  subject: string;
  header(name: string): string | undefined;
  storedAt: string;
}

/**
 * Visit the messages of a stream stored since `fromMs` (headers only; one subject filter at most, as
 * nats-server 2.9 allows) through a short-lived ephemeral consumer of the exchange administrator.
 */
async function scan(nc: NatsConnection, jsm: JetStreamManager, stream: string, fromMs: number, visit: (m: Seen) => void, filter?: string): Promise<void> {
  const name = `RETRACT_${nuid.next()}`;
  const ci = await jsm.consumers.add(stream, {
    name,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Math.max(0, fromMs)).toISOString(),
    headers_only: true,
    inactive_threshold: nanos(30_000),
    mem_storage: true,
    ...(filter ? { filter_subject: filter } : {}),
  });
  try {
    let pending = ci.num_pending;
    if (pending === 0) return;
    const consumer = await jetstream(nc).consumers.get(stream, name);
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, 1_000), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        visit({ stream, seq: m.seq, subject: m.subject, header: (n) => m.headers?.get(n) || undefined, storedAt: m.time.toISOString() });
        pending = m.info.pending;
      }
      if (got === 0) break;
    }
  } finally {
    await jsm.consumers.delete(stream, name).catch(() => undefined);
  }
}

/**
 * The exchange's record of a retraction of `id`, with each recipient's receipt (a RetractionReceipt
 * with the id derived for it, found in the control stream under the recipient's own sender token);
 * undefined when the message was never retracted. For the exchange administrator (`liaison explain`)
 * and the retraction service (which first checks the caller is the sender).
 */
export async function retractionWithReceipts(nc: NatsConnection, id: string): Promise<RetractionRecord | undefined> {
  const kv = await new Kvm(nc).open(RETRACTIONS_BUCKET).catch(() => undefined);
  const e = await kv?.get(id);
  if (!e || e.operation !== 'PUT') return undefined;
  const record = JSON.parse(e.string()) as RetractionRecord;
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
 * authenticates the caller):
 * - `retract`: find the copies of the message in the family streams (its Nats-Msg-Id `<id>:<tier>`),
 *   refuse unless their sender token — which the broker guarantees — is the caller's, work out which
 *   agencies a copy was delivered to (consumers whose filter covers it and whose delivered sequence
 *   reached it), delete the copies (no consumer and no replay delivers them again), record the
 *   retraction in {@link RETRACTIONS_BUCKET} and answer with it. Asking again answers the same record.
 * - `status`: the record, with each recipient's receipt (a RetractionReceipt with the id derived
 *   for it, found in the control stream under the recipient's own sender token).
 */
export function startRetractService(o: { nc: NatsConnection; policy: () => Policy; catalog: TypeCatalog; logger?: Logger }): { stop(): void } {
  let codec: EnvelopeCodec | undefined;
  let kv: Promise<KV> | undefined;
  const bucket = () => (kv ??= new Kvm(o.nc).create(RETRACTIONS_BUCKET, { history: 1 }));

  const read = async (id: string): Promise<RetractionRecord | undefined> => {
    const e = await (await bucket()).get(id);
    return e && e.operation === 'PUT' ? (JSON.parse(e.string()) as RetractionRecord) : undefined;
  };

  const own = (record: RetractionRecord | undefined, agency: string, id: string): RetractionRecord => {
    if (!record) throw new LiaisonError('ERR_RETRACT_UNKNOWN', `the exchange holds no retraction of ${id}`);
    if (record.sender !== agency) throw new LiaisonError('ERR_RETRACT_NOT_SENDER', `${id} was sent by ${record.sender}, not ${agency}: only the original sender may retract or correct it`);
    return record;
  };

  const retract = async (agency: string, req: Extract<RetractRequest, { op: 'retract' }>): Promise<RetractionRecord> => {
    const existing = await read(req.originalId);
    if (existing) return own(existing, agency, req.originalId);
    const jsm = await jetstreamManager(o.nc);
    const prefix = `${req.originalId}:`;
    const copies: Seen[] = [];
    const from = uuidTime(req.originalId) - SKEW_MS;
    for (const s of compileStreams(o.policy(), o.catalog)) {
      if (s.name === QUARANTINE_STREAM || s.name === streamName(CONTROL_FAMILY)) continue;
      await scan(o.nc, jsm, s.name, from, (m) => {
        if (m.header('Nats-Msg-Id')?.startsWith(prefix)) copies.push(m);
      });
      if (copies.length) break;
    }
    if (copies.length === 0) throw new LiaisonError('ERR_RETRACT_UNKNOWN', `the exchange holds no message ${req.originalId} (never sent, already expired, or a control message)`);
    const parsed = copies.map((c) => ({ copy: c, subject: parseMessageSubject(c.subject)! }));
    const sender = parsed[0]!.subject.sender;
    if (sender !== agency) throw new LiaisonError('ERR_RETRACT_NOT_SENDER', `${req.originalId} was sent by ${sender}, not ${agency}: only the original sender may retract or correct it`);
    const first = await jsm.streams.getMessage(copies[0]!.stream, { seq: copies[0]!.seq });
    if (!first) throw new LiaisonError('ERR_RETRACT_UNKNOWN', `${req.originalId} left the stream while it was being retracted`);
    codec ??= createEnvelopeCodec(loadCatalog().envelopeTypes);
    const { header } = codec.decodeSigned(codec.decodeEnvelope(first.data).signed);
    for (const c of copies) await jsm.streams.deleteMessage(c.stream, c.seq, false);
    const retractedAt = new Date().toISOString();
    const recipients = new Map<string, RetractionRecipient>();
    const withheld = new Set<string>();
    const consumers = compileConsumers(o.policy(), o.catalog);
    for (const { copy, subject } of parsed) {
      for (const c of consumers) {
        if (c.agency === sender || c.stream !== copy.stream || !subjectMatches(c.filterSubject, copy.subject)) continue;
        const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
        if (info && info.delivered.stream_seq >= copy.seq) {
          const retractionId = retractionIdFor(retractedAt, req.originalId, c.agency);
          if (!recipients.has(c.agency)) recipients.set(c.agency, { agency: c.agency, tier: subject.tier, retractionId, receiptId: receiptIdFor(retractionId, c.agency) });
        } else withheld.add(c.agency);
      }
    }
    for (const a of recipients.keys()) withheld.delete(a);
    const record: RetractionRecord = {
      originalId: req.originalId,
      originalType: parsed[0]!.subject.type,
      sender,
      originalRecipient: parsed[0]!.subject.recipient,
      handling: header.handling,
      tlp: header.tlp,
      caseRef: header.caseRef,
      correlationId: header.correlationId,
      reason: String(req.reason ?? ''),
      ...(req.replacedBy ? { replacedBy: req.replacedBy } : {}),
      retractedAt,
      copies: parsed.map(({ copy, subject }) => ({ tier: subject.tier, subject: copy.subject, stream: copy.stream, seq: copy.seq })),
      recipients: [...recipients.values()].sort((a, b) => a.agency.localeCompare(b.agency)),
      withheld: [...withheld].sort(),
    };
    try {
      await (await bucket()).create(req.originalId, JSON.stringify(record));
    } catch {
      // A concurrent request recorded it first (the copies are gone either way): answer that record.
      return own(await read(req.originalId), agency, req.originalId);
    }
    o.logger?.info({ agency, msgId: req.originalId, recipients: record.recipients.length, withheld: record.withheld.length }, 'message retracted');
    return record;
  };

  const status = async (agency: string, id: string): Promise<RetractionRecord> => {
    own(await read(id), agency, id);
    return (await retractionWithReceipts(o.nc, id))!;
  };

  const sub: Subscription = o.nc.subscribe(RETRACT_SUBJECTS, {
    callback: (err, msg) => {
      if (err) return o.logger?.warn({ err }, 'retraction service subscription error');
      const agency = msg.subject.split('.').at(-1)!;
      void (async (): Promise<RetractReply> => {
        let req: RetractRequest;
        try {
          req = JSON.parse(msg.string()) as RetractRequest;
          if (!req || (req.op !== 'retract' && req.op !== 'status') || typeof req.originalId !== 'string' || !isUuidv7(req.originalId)) throw new Error('expected {"op": "retract"|"status", "originalId": UUIDv7}');
        } catch (e) {
          return { ok: false, error: `ERR_BODY_INVALID: ${(e as Error).message}` };
        }
        const record = req.op === 'retract' ? await retract(agency, req) : await status(agency, req.originalId);
        return { ok: true, record };
      })()
        .catch((e: unknown): RetractReply => {
          const le = asLiaisonError(e, 'ERR_EXCHANGE');
          return { ok: false, error: le.toLine() };
        })
        .then((reply) => msg.respond(JSON.stringify(reply)));
    },
  });
  return { stop: () => sub.unsubscribe() };
}
