import { createHash } from 'node:crypto';
import { LiaisonError } from '../sdk/errors.ts';

/**
 * The audit ledger's entries. Each entry is one JSON document stored as one message of the
 * `LIAISON_AUDIT` stream; its hash is the SHA-256 of exactly the stored bytes (no canonicalisation),
 * and the next entry carries that hash in `prev`: a hash chain. Entry numbers `n` count from 1.
 * Entries hold header facts and digests, never message bodies.
 */
export const LEDGER_STREAM = 'LIAISON_AUDIT';

/** Subjects of the ledger stream (only the exchange administrator has rights on them). */
export const LEDGER_SUBJECT_ROOT = 'liaison.v1.audit';
export const LEDGER_SUBJECTS = [`${LEDGER_SUBJECT_ROOT}.>`];

/** `prev` of entry 1: the hash of nothing (32 zero bytes, base64url). */
export const GENESIS = Buffer.alloc(32).toString('base64url');

/** Fields every entry carries. */
export interface EntryBase {
  v: 1;
  /** Entry number, 1, 2, 3… in ledger order. */
  n: number;
  /** base64url SHA-256 of the stored bytes of entry n − 1 ({@link GENESIS} for entry 1). */
  prev: string;
  /** When it happened at the exchange (ISO 8601): the copy's store time, the request's arrival. */
  at: string;
}

/** A message copy stored in a family stream. `sender`, `recipient`, `tier`, `type` come from the subject (the broker enforces the sender token). */
export interface CopyEntry extends EntryBase {
  kind: 'copy';
  stream: string;
  seq: number;
  subject: string;
  /** Message id (ce-id). */
  id?: string;
  type: string;
  sender: string;
  recipient: string;
  tier: string;
  /** The sender's claimed creation time (ce-time). */
  sentAt?: string;
  msgId?: string;
  /** base64url SHA-256 of the envelope bytes, and their length. */
  digest: string;
  size: number;
  /** Agencies whose consumers deliver this copy under the policy in force (sender excluded). */
  deliverTo: string[];
  /** Content hash of that policy. */
  policy: string;
  /** NATS headers that disagree with the subject (ce-source, ce-type), when any. */
  mismatch?: string[];
  /** A copy with a qualified sender or recipient (`<peer>:<agency>`): the agreement that admitted it, or why none did. */
  cross?: CrossFacts;
}

/**
 * A copy crossing a cross-federation agreement (issue 17). Ids in the entry are in this federation's namespace: the
 * other federation's agencies qualified (`atl:xb-police`). `deliverTo` of an admitted outbound copy names the
 * qualified recipient the bridge hands it to (its acknowledgement: the bridge's, after the peer exchange stored it).
 */
export interface CrossFacts {
  /** The other federation. */
  peer: string;
  /** `outbound`: a local sender's copy to a foreign recipient (the bridge exports it); `inbound`: stored here by the bridge. */
  direction: 'outbound' | 'inbound';
  /** The applied agreement admitting it, and its flow (`flows[<i>]`); absent when none does. */
  agreement?: string;
  flow?: string;
  /** Outbound, admitted: the export consumer the bridge reads it from. */
  via?: string;
  /** When no applied agreement admits it, why: an outbound copy then stays home, an inbound one is refused by its recipient. */
  refused?: string;
}

/** A copy a receiving agency refused and put on the quarantine stream. */
export interface QuarantineEntry extends EntryBase {
  kind: 'quarantine';
  stream: string;
  seq: number;
  subject: string;
  /** The refusing agency (the quarantine subject's last token). */
  by: string;
  code: string;
  reason: string;
  originalSubject?: string;
  /** The sender token of the original subject (or, on a replay marker, the sender of the entry replayed). */
  claimedSender?: string;
  id?: string;
  type?: string;
  /** How many times the copy was delivered before it was quarantined (in-doubt and dead-lettered copies). */
  deliveryCount?: number;
  /** On a replay marker (code `REPLAYED`): the quarantine sequence of the entry the agency replayed. */
  replayOf?: number;
  digest: string;
  size: number;
}

/** A request on a service subject (`liaison.v1.svc.…`). */
export interface QueryEntry extends EntryBase {
  kind: 'query';
  subject: string;
  /** `<family>.<Type>` or `exchange.replay`. */
  service: string;
  /**
   * The asking agency: the signer of the request, verified against the federation directory (a
   * replay subject names it, broker-enforced). When the signature could not be verified, only what
   * the request claims, and `unverified` says why.
   */
  requester?: string;
  /** Why the request's signature could not be verified (`CODE: reason`); absent when it verified. */
  unverified?: string;
  /**
   * What disagrees, when anything does: `ce-source` or `subject` (the request subject's agency) with the signed
   * sender; `reply`: the reply subject lies outside the requester's own inbox — a confused-deputy attempt, which
   * every Liaison service drops unanswered.
   */
  mismatch?: string[];
  /** The agency serving it under the policy, when exactly one does. */
  server?: string;
  id?: string;
  type?: string;
  /** base64url SHA-256 of the request bytes: for a signed request, the `request_hash` its reply carries. */
  digest: string;
  size: number;
}

/**
 * A copy the bridge terminated on an export consumer (JetStream's MSG_TERMINATED advisory): the peer's broker refused
 * the bridge's publish (Permissions Violation) or its subject could not be rewritten, so the copy never crossed
 * although the consumer's acknowledgement floor passed it.
 */
export interface BridgeRefusalEntry extends EntryBase {
  kind: 'bridge-refusal';
  /** The family stream and its sequence of the copy. */
  stream: string;
  seq: number;
  /** The export consumer (`bridge_<peer>_…`). */
  consumer: string;
  deliveries?: number;
}

/** Consumer acknowledgement floors that advanced: agency A has acknowledged every copy of its consumer C up to stream seq `ackFloor`. */
export interface ReceiptEntry extends EntryBase {
  kind: 'receipt';
  acks: { stream: string; consumer: string; agency: string; ackFloor: number }[];
}

/** Stream sequences the audit could not read (removed by retention before it got to them). */
export interface GapEntry extends EntryBase {
  kind: 'gap';
  stream: string;
  from: number;
  to: number;
}

/** Requests of one (service, requester) the audit did not record, within one {@link QueriesMissedEntry}. */
export interface MissedRequests {
  /** `<family>.<Type>` or `exchange.replay`, from the request subject. */
  service: string;
  /** The agency the request subject names (only it may publish there: broker-enforced); signatures were not verified. */
  requester: string;
  count: number;
  /** First and last arrival (ISO 8601). */
  from: string;
  to: string;
}

/**
 * Requests the audit saw but did not record (issue 16): they came while its bounded queue of requests to record
 * was full (requests are core NATS, not stored: they cannot wait in JetStream), or their entry could not be
 * appended. Appended once the queue has room again, in arrival order: after every request recorded before them,
 * before every request that came after.
 */
export interface QueriesMissedEntry extends EntryBase {
  kind: 'queries-missed';
  /** First and last arrival of the requests not recorded (ISO 8601). */
  from: string;
  to: string;
  /** How many requests were not recorded (the sum of `missed[].count`). */
  count: number;
  /** Why: `queue-full` (held requests or bytes at the bound), `append-failed` (the ledger writer failed). */
  reasons: string[];
  missed: MissedRequests[];
  /** A count of requests names no message or request id (present for the other entries an answer returns). */
  id?: undefined;
}

/** The audit service (re)started; where it resumed each source stream. */
export interface StartEntry extends EntryBase {
  kind: 'start';
  kid: string;
  positions: Record<string, number>;
}

/** A signed checkpoint: an Ed25519 compact JWS over {ledger, count, head, at} (see checkpoint.ts). */
export interface CheckpointEntry extends EntryBase {
  kind: 'checkpoint';
  /** Entries covered (1…count); the checkpoint itself is entry count + 1. */
  count: number;
  /** Hash of entry `count`. */
  head: string;
  kid: string;
  jws: string;
}

/** Any ledger entry, discriminated by `kind`. */
export type Entry = CopyEntry | QuarantineEntry | QueryEntry | ReceiptEntry | GapEntry | StartEntry | CheckpointEntry | BridgeRefusalEntry | QueriesMissedEntry;

/** An entry before it is numbered and chained. */
export type EntryBody = Entry extends infer E ? (E extends Entry ? Omit<E, 'v' | 'n' | 'prev'> : never) : never;

/** base64url SHA-256 of bytes (entry hashes and digests). */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

/** Serialise an entry (the stored bytes). */
export function encodeEntry(e: Entry): Uint8Array {
  return Buffer.from(JSON.stringify(e), 'utf8');
}

/** Parse stored bytes as an entry; ERR_AUDIT_TAMPERED when they are not one. */
export function decodeEntry(bytes: Uint8Array): Entry {
  let e: unknown;
  try {
    e = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new LiaisonError('ERR_AUDIT_TAMPERED', 'audit entry is not JSON');
  }
  const r = e as Record<string, unknown>;
  if (!r || typeof r !== 'object' || r.v !== 1 || !Number.isInteger(r.n) || typeof r.prev !== 'string' || typeof r.kind !== 'string' || typeof r.at !== 'string') {
    throw new LiaisonError('ERR_AUDIT_TAMPERED', 'audit entry lacks v, n, prev, kind or at');
  }
  return e as Entry;
}

/** Ledger subject of an entry: `liaison.v1.audit.<kind>[.<stream>]` (per-stream subjects let the service find where it stopped). */
export function entrySubject(e: Pick<Entry, 'kind'> & { stream?: string }): string {
  return e.stream && (e.kind === 'copy' || e.kind === 'quarantine' || e.kind === 'gap') ? `${LEDGER_SUBJECT_ROOT}.source.${e.stream}` : `${LEDGER_SUBJECT_ROOT}.${e.kind}`;
}

/** The last source-stream sequence an entry accounts for (copy, quarantine, gap), else undefined. */
export function sourcePosition(e: Entry): number | undefined {
  if (e.kind === 'copy' || e.kind === 'quarantine') return e.seq;
  if (e.kind === 'gap') return e.to;
  return undefined;
}
