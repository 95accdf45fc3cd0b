import { jetstreamManager, type JetStreamManager, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PeekReply, PeekRequest, PeekedCopy } from '../sdk/client/peek.ts';
import { PEEK_MAX_BYTES, PEEK_MAX_COPIES } from '../sdk/client/peek.ts';
import type { Logger } from '../sdk/logging.ts';
import { compileConsumers, type ConsumerSpec, type Policy, type TypeCatalog } from '../sdk/policy/index.ts';
import { PEEK_SUBJECTS } from '../sdk/subjects.ts';
import type { ExchangeServiceHost } from './service-host.ts';

function parseRequest(text: string): PeekRequest {
  if (text.trim() === '') return {};
  const req = JSON.parse(text) as PeekRequest;
  if (!req || typeof req !== 'object') throw new Error('not an object');
  if (req.max !== undefined && (!Number.isInteger(req.max) || req.max < 1)) throw new Error('max must be a positive integer');
  for (const [name, seq] of Object.entries(req.cursors ?? {})) {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`cursor of ${name} must be a non-negative integer`);
  }
  return req;
}

/** The agency's own consumers (replica 1: replicas share the filter), of the asked types only. */
function ownConsumers(policy: Policy, catalog: TypeCatalog, agency: string, types: readonly string[] | undefined): ConsumerSpec[] {
  return compileConsumers(policy, catalog).filter((c) => c.agency === agency && c.replica === 1 && (!types || types.includes(c.type)));
}

/** Where a consumer's read starts: after the cursor the caller holds, else after its ack floor (what still waits for the agency). */
async function startOf(jsm: JetStreamManager, c: ConsumerSpec, cursor: number | undefined): Promise<number> {
  if (cursor !== undefined) return cursor + 1;
  const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
  return (info?.ack_floor.stream_seq ?? 0) + 1;
}

/** The next stored message on `filter` at or after `seq` (null when there is none; any other failure throws, so nothing is skipped). */
async function nextBySubject(jsm: JetStreamManager, stream: string, seq: number, filter: string): Promise<StoredMsg | null> {
  // STREAM.MSG.GET with next_by_subj (nats-server ≥ 2.9): one stored message, no consumer created.
  const query = { seq, next_by_subj: filter } as unknown as MsgRequest;
  return await jsm.streams.getMessage(stream, query);
}

function copyOf(c: ConsumerSpec, m: StoredMsg): PeekedCopy {
  const headers: [string, string][] = [];
  for (const k of m.header?.keys() ?? []) for (const v of m.header.values(k)) headers.push([k, v]);
  return { consumer: c.name, stream: c.stream, seq: m.seq, subject: m.subject, storedAt: m.time.toISOString(), headers, data: Buffer.from(m.data).toString('base64') };
}

/** Read one page: every own consumer from its start, until `max` copies or {@link PEEK_MAX_BYTES}. */
async function readPage(nc: NatsConnection, specs: ConsumerSpec[], req: PeekRequest): Promise<PeekReply> {
  const jsm = await jetstreamManager(nc);
  const max = Math.min(req.max ?? PEEK_MAX_COPIES, PEEK_MAX_COPIES);
  const lastSeq = new Map<string, number>();
  const copies: PeekedCopy[] = [];
  const cursors: Record<string, number> = {};
  let bytes = 0;
  let more = false;
  for (const c of specs) {
    if (!lastSeq.has(c.stream)) lastSeq.set(c.stream, (await jsm.streams.info(c.stream).catch(() => undefined))?.state.last_seq ?? 0);
    // `fromNow`: only what arrives after this answer (a sender about to watch for the verdict on its message).
    const cursor = req.cursors?.[c.name] ?? (req.fromNow ? lastSeq.get(c.stream)! : undefined);
    let seq = await startOf(jsm, c, cursor);
    cursors[c.name] = seq - 1;
    while (seq <= lastSeq.get(c.stream)!) {
      if (copies.length >= max || bytes >= PEEK_MAX_BYTES) {
        more = true;
        break;
      }
      const m = await nextBySubject(jsm, c.stream, seq, c.filterSubject);
      if (!m || m.seq > lastSeq.get(c.stream)!) {
        // Nothing of this consumer up to the last message seen: the next read starts after it, not here again.
        cursors[c.name] = lastSeq.get(c.stream)!;
        break;
      }
      const copy = copyOf(c, m);
      copies.push(copy);
      bytes += copy.data.length + copy.subject.length + 200;
      cursors[c.name] = m.seq;
      seq = m.seq + 1;
    }
  }
  copies.sort((a, b) => a.storedAt.localeCompare(b.storedAt) || a.seq - b.seq);
  return { ok: true, copies, cursors, more };
}

/**
 * The exchange's peek service: `liaison tail` without consuming. An agency asks on its own
 * `liaison.v1.svc.exchange.peek.<agency>` subject — which only it may publish on — and gets the copies its own
 * durable consumers would deliver (their filter subjects: its ceiling tier, directed to it, broadcast or observed),
 * from after its ack floor or after the cursors it holds, read one stored message at a time on the administrator's
 * connection `nc`. Nothing is acknowledged, no consumer is created or moved: the agency's integration still gets
 * every copy. The copies are the signed envelopes as stored; the asking SDK verifies them as it verifies deliveries.
 */
export function startPeekService(o: { nc: NatsConnection; host: ExchangeServiceHost; policy: () => Policy; catalog: TypeCatalog; logger?: Logger }): void {
  o.host.listen('peek', PEEK_SUBJECTS, async (msg, agency) => {
    const reply = await (async (): Promise<PeekReply> => {
      let req: PeekRequest;
      try {
        req = parseRequest(msg.string());
      } catch (e) {
        return { ok: false, error: `ERR_BODY_INVALID: peek request is not {"cursors"?: {consumer: seq}, "fromNow"?: bool, "max"?: n, "types"?: [type]}: ${(e as Error).message}` };
      }
      const specs = ownConsumers(o.policy(), o.catalog, agency, req.types);
      const foreign = Object.keys(req.cursors ?? {}).find((name) => !specs.some((c) => c.name === name));
      if (foreign) return { ok: false, error: `ERR_PERMISSION_DENIED: ${foreign} is not a consumer of ${agency}` };
      return await readPage(o.nc, specs, req);
    })().catch((e: unknown): PeekReply => ({ ok: false, error: `ERR_EXCHANGE: ${(e as Error).message}` }));
    return { data: JSON.stringify(reply) };
  });
}
