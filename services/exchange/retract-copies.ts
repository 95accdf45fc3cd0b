/**
 * Which stored copies are a given agency's message `<sender, id>`: the retraction service's lookup.
 * Ids come from the sender, so an id alone names nothing — any agency may store a message of its own
 * under another's id, or re-publish another's signed envelope on its own subject. A copy is the
 * caller's only when the broker-guaranteed sender token of its subject is the caller's AND its
 * envelope is signed by the caller (verified against the federation directory) for that id.
 *
 * @module
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import type { RequestVerifier } from '../audit/requester.ts';
import { createEphemeral, EPHEMERAL_CREATE_TIMEOUT_MS } from '../sdk/jetstream-retry.ts';
import type { EnvelopeCodec } from '../sdk/envelope/codec.ts';
import type { MessageHeader } from '../sdk/envelope/header.ts';
import { parseMessageSubject, type MessageSubject } from '../sdk/subjects.ts';

const nanos = (ms: number) => ms * 1_000_000;

/** One stored message a scan visits (headers only). */
export interface Seen {
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
export async function scan(nc: NatsConnection, jsm: JetStreamManager, stream: string, fromMs: number, visit: (m: Seen) => void, filter?: string): Promise<void> {
  let name = '';
  // Made again (a new name) while unanswered: on a cluster with a node down it may be placed on the dead node
  // (services/sdk/jetstream-retry.ts).
  const quick = await jetstreamManager(nc, { timeout: EPHEMERAL_CREATE_TIMEOUT_MS, checkAPI: false });
  const ci = await createEphemeral(() => quick.consumers.add(stream, {
    name: (name = `RETRACT_${nuid.next()}`),
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Math.max(0, fromMs)).toISOString(),
    headers_only: true,
    inactive_threshold: nanos(30_000),
    mem_storage: true,
    ...(filter ? { filter_subject: filter } : {}),
  }));
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

/** A copy of the caller's own message, with its subject and its verified signed header. */
export interface OwnCopy {
  copy: Seen;
  subject: MessageSubject;
  header: MessageHeader;
}

/** What a search for `<agency, id>` found. */
export interface CopySearch {
  /** The caller's own copies: its sender token, signed by it for this id. */
  own: OwnCopy[];
  /** Senders of other copies that claim this id (another agency's message, or a re-published envelope). */
  others: Set<string>;
}

/** True when a stored copy's headers claim message id `id` (ce-id or Nats-Msg-Id, any sender). */
function claimsId(m: Seen, id: string): boolean {
  if (m.header('ce-id') === id) return true;
  const msgId = m.header('Nats-Msg-Id') ?? '';
  return msgId.startsWith(`${id}:`) || msgId.includes(`:${id}:`);
}

/** What finding copies needs: the streams to search, since when, and the signature check. */
export interface CopyFinder {
  nc: NatsConnection;
  jsm: JetStreamManager;
  streams: string[];
  fromMs: number;
  verifier: Pick<RequestVerifier, 'verify'>;
  codec: EnvelopeCodec;
}

/**
 * Every copy in `streams` that claims `id`, split into `agency`'s own (subject sender token and
 * verified signer both `agency`, signed header id `id`) and the senders of the rest. Headers are
 * free text, so the headers only select candidates; the signed envelope decides.
 */
export async function findCopies(f: CopyFinder, agency: string, id: string): Promise<CopySearch> {
  const candidates: { copy: Seen; subject: MessageSubject }[] = [];
  const others = new Set<string>();
  for (const stream of f.streams) {
    await scan(f.nc, f.jsm, stream, f.fromMs, (m) => {
      if (!claimsId(m, id)) return;
      const subject = parseMessageSubject(m.subject);
      if (!subject) return;
      if (subject.sender === agency) candidates.push({ copy: m, subject });
      else others.add(subject.sender);
    });
  }
  const own: OwnCopy[] = [];
  for (const c of candidates) {
    const header = await verifiedHeader(f, c.copy);
    if (header && header.sender === agency && header.id === id) own.push({ ...c, header });
    else others.add(header?.sender ?? `${agency} (unverified)`);
  }
  return { own, others };
}

/** The signed header of a stored copy when its signature verifies under its signer's directory key; else undefined. */
async function verifiedHeader(f: CopyFinder, copy: Seen): Promise<MessageHeader | undefined> {
  const stored = await f.jsm.streams.getMessage(copy.stream, { seq: copy.seq }).catch(() => undefined);
  if (!stored) return undefined;
  const signer = await f.verifier.verify(stored.data);
  if (!signer.sender || signer.unverified) return undefined;
  try {
    const { header } = f.codec.decodeSigned(f.codec.decodeEnvelope(stored.data).signed);
    return header.sender === signer.sender ? header : undefined;
  } catch {
    return undefined;
  }
}
