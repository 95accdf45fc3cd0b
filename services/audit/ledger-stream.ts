import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../sdk/errors.ts';
import { createEphemeral, EPHEMERAL_CREATE_TIMEOUT_MS } from '../sdk/jetstream-retry.ts';
import { decodeEntry, GENESIS, LEDGER_STREAM, LEDGER_SUBJECT_ROOT, LEDGER_SUBJECTS, sha256, sourcePosition, type Entry } from './entry.ts';

/** One stored ledger message, as read back. */
export interface StoredEntry {
  /** Stream sequence. */
  seq: number;
  data: Uint8Array;
}

/** The end of the chain: last entry number, its hash, its stream sequence, its kind. */
export interface ChainHead {
  n: number;
  hash: string;
  seq: number;
  kind?: Entry['kind'];
}

/**
 * The ledger stream's configuration: file storage, kept without age or size limit, and with
 * message deletion and purging denied (nats-server refuses to lift either flag later), so entries
 * cannot be removed through the JetStream API; only deleting the whole stream remains, which
 * `liaison audit verify` notices against the signed checkpoints.
 */
export function ledgerStreamConfig(): Partial<StreamConfig> & { name: string } {
  return { name: LEDGER_STREAM, subjects: LEDGER_SUBJECTS, storage: StorageType.File, max_age: 0, deny_delete: true, deny_purge: true, allow_rollup_hdrs: false };
}

/** Create the ledger stream if absent (as the exchange administrator). Agencies have no rights on it. */
export async function ensureLedgerStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(LEDGER_STREAM).catch(() => undefined);
    if (!info) await jsm.streams.add(ledgerStreamConfig());
    else if (!info.config.deny_delete || !info.config.deny_purge) await jsm.streams.update(LEDGER_STREAM, { ...info.config, deny_delete: true, deny_purge: true });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_AUDIT_LEDGER', `cannot create the audit ledger stream ${LEDGER_STREAM}`);
  }
}

async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_AUDIT_LEDGER', 'JetStream is not available to read the audit ledger');
  }
}

/**
 * The ordered consumer reading the ledger from its first message. On a cluster with a node down nats-server 2.9.10
 * places this R1 consumer on the dead node too (about one create in three): each create is bounded at
 * {@link EPHEMERAL_CREATE_TIMEOUT_MS} and, unanswered, made again under a new name (test/cluster-audit-read).
 */
async function createReader(nc: NatsConnection) {
  const js = jetstream(nc, { timeout: EPHEMERAL_CREATE_TIMEOUT_MS });
  try {
    return await createEphemeral(() => js.consumers.get(LEDGER_STREAM, { name_prefix: `AUDIT_READ_${nuid.next()}`, deliver_policy: DeliverPolicy.All }));
  } catch (err) {
    throw asLiaisonError(err, 'ERR_AUDIT_LEDGER', `cannot create a reader of the audit ledger (stream ${LEDGER_STREAM})`);
  }
}

/** Read every stored ledger entry in stream order (an ordered consumer from the first message). */
export async function readLedger(nc: NatsConnection, o: { timeoutMs?: number } = {}): Promise<StoredEntry[]> {
  const jsm = await manager(nc);
  const info = await jsm.streams.info(LEDGER_STREAM).catch((err: unknown) => {
    throw asLiaisonError(err, 'ERR_AUDIT_LEDGER', `no audit ledger (stream ${LEDGER_STREAM}) on this exchange`);
  });
  const last = info.state.last_seq;
  const out: StoredEntry[] = [];
  if (info.state.messages === 0) return out;
  const consumer = await createReader(nc);
  const messages = await consumer.consume({ max_messages: 1_000 });
  const timer = setTimeout(() => void messages.close(), o.timeoutMs ?? 60_000);
  try {
    for await (const m of messages) {
      out.push({ seq: m.seq, data: m.data });
      if (m.seq >= last) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
  if ((out.at(-1)?.seq ?? 0) < last) throw new LiaisonError('ERR_TIMEOUT', `read ${out.length} audit entries but the ledger ends at sequence ${last}`);
  return out;
}

/** The chain head of the ledger (n 0 and {@link GENESIS} when empty). */
export async function readChainHead(nc: NatsConnection): Promise<ChainHead> {
  const jsm = await manager(nc);
  const info = await jsm.streams.info(LEDGER_STREAM);
  for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0; seq--) {
    const m = await jsm.streams.getMessage(LEDGER_STREAM, { seq });
    if (!m) continue;
    const e = decodeEntry(m.data);
    return { n: e.n, hash: sha256(m.data), seq: info.state.last_seq, kind: e.kind };
  }
  return { n: 0, hash: GENESIS, seq: info.state.last_seq };
}

/** The last source-stream sequence the ledger accounts for, per stream (0 when none yet). */
export async function readSourcePositions(nc: NatsConnection, streams: string[]): Promise<Record<string, number>> {
  const jsm = await manager(nc);
  const out: Record<string, number> = {};
  for (const s of streams) {
    const m = await jsm.streams.getMessage(LEDGER_STREAM, { last_by_subj: `${LEDGER_SUBJECT_ROOT}.source.${s}` });
    out[s] = m ? (sourcePosition(decodeEntry(m.data)) ?? 0) : 0;
  }
  return out;
}
