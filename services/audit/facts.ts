import { localise } from '../bridge/agreement/model.ts';
import type { Policy } from '../sdk/policy/index.ts';
import type { CrossJudgement } from './cross.ts';
import { parseMessageSubject, QUARANTINE_STREAM, responseRoute, SUBJECT_ROOT } from '../sdk/subjects.ts';
import { sha256, type CopyEntry, type QuarantineEntry, type QueryEntry } from './entry.ts';
import type { DeliveryMap } from './recipients.ts';
import type { RequestSigner } from './requester.ts';

/** Header getter over nats.js MsgHdrs (undefined when absent or empty). */
export type Get = (name: string) => string | undefined;

/** What the audit reads of a stored copy: never more than subject, headers, bytes to digest. */
export interface StoredCopy {
  stream: string;
  seq: number;
  subject: string;
  data: Uint8Array;
  header: Get;
  storedAt: string;
}

const SOURCE_PREFIX = '/liaison/agencies/';
const TYPE_PREFIX = `${SUBJECT_ROOT}.`;

/** The agency a CloudEvents `ce-source` names. */
export function agencyOfSource(source: string | undefined): string | undefined {
  return source?.startsWith(SOURCE_PREFIX) ? source.slice(SOURCE_PREFIX.length) : undefined;
}

/** A message type without its `liaison.v1.` package. */
export function shortType(type: string): string {
  return type.startsWith(TYPE_PREFIX) ? type.slice(TYPE_PREFIX.length) : type;
}

/**
 * The entry for one stored copy of a family stream, or of the quarantine stream. `cross`: the copy's judgement
 * across the applied agreements when its subject names a qualified sender or recipient (cross.ts): recorded with the
 * agreement and flow that admitted it (and, outbound, the qualified recipient the bridge delivers it to); an inbound
 * copy's `ce-source` is compared with its sender localised to this federation (the headers are the sender's own).
 */
export function storedFacts(m: StoredCopy, policy: Policy, deliveries: DeliveryMap, cross?: CrossJudgement): Omit<CopyEntry, 'v' | 'n' | 'prev'> | Omit<QuarantineEntry, 'v' | 'n' | 'prev'> {
  const digest = sha256(m.data);
  const id = m.header('ce-id');
  const ceType = m.header('ce-type');
  if (m.stream === QUARANTINE_STREAM) {
    const original = m.header('liaison-original-subject');
    const parsed = original ? parseMessageSubject(original) : undefined;
    const sender = parsed?.sender ?? m.header('liaison-sender');
    const msgId = id ?? m.header('liaison-msg-id');
    const deliveryCount = Number(m.header('liaison-delivery-count'));
    const replayOf = Number(m.header('liaison-replay-of'));
    return {
      kind: 'quarantine',
      at: m.storedAt,
      stream: m.stream,
      seq: m.seq,
      subject: m.subject,
      by: m.subject.split('.').at(-1)!,
      code: m.header('liaison-reject-code') ?? (replayOf > 0 ? 'REPLAYED' : 'unknown'),
      reason: m.header('liaison-reject-reason') ?? (replayOf > 0 ? `replayed by ${m.subject.split('.').at(-1)!}: ${m.header('liaison-replay-outcome') ?? 'replayed'}` : ''),
      ...(original ? { originalSubject: original } : {}),
      ...(sender ? { claimedSender: sender } : {}),
      ...(msgId ? { id: msgId } : {}),
      ...(ceType || parsed ? { type: ceType ? shortType(ceType) : parsed!.type } : {}),
      ...(Number.isSafeInteger(deliveryCount) && deliveryCount > 0 ? { deliveryCount } : {}),
      ...(Number.isSafeInteger(replayOf) && replayOf > 0 ? { replayOf } : {}),
      digest,
      size: m.data.byteLength,
    };
  }
  const s = parseMessageSubject(m.subject);
  const sender = s?.sender ?? '?';
  const type = s?.type ?? (ceType ? shortType(ceType) : '?');
  const mismatch: string[] = [];
  const ceSource = agencyOfSource(m.header('ce-source'));
  const ceSender = ceSource !== undefined && cross?.facts.direction === 'inbound' ? localise(ceSource, cross.self, cross.facts.peer) : ceSource;
  if (ceSender !== undefined && ceSender !== sender) mismatch.push('ce-source');
  if (ceType !== undefined && shortType(ceType) !== type) mismatch.push('ce-type');
  const sentAt = m.header('ce-time');
  const msgId = m.header('Nats-Msg-Id');
  return {
    kind: 'copy',
    at: m.storedAt,
    stream: m.stream,
    seq: m.seq,
    subject: m.subject,
    ...(id ? { id } : {}),
    type,
    sender,
    recipient: s?.recipient ?? '?',
    tier: s?.tier ?? '?',
    ...(sentAt ? { sentAt } : {}),
    ...(msgId ? { msgId } : {}),
    digest,
    size: m.data.byteLength,
    deliverTo: s ? [...deliveries.recipients(policy, m.subject, sender), ...(cross?.deliversTo ? [cross.deliversTo] : [])] : [],
    policy: policy.hash,
    ...(mismatch.length ? { mismatch } : {}),
    ...(cross ? { cross: cross.facts } : {}),
  };
}

/**
 * The entry for a request seen on a service subject. A replay request's subject names the agency
 * (only it may publish there); a signed request names its sender in `ce-source`.
 */
export function queryFacts(
  q: { subject: string; data: Uint8Array; header: Get; at: string; reply?: string; signer?: RequestSigner },
  policy: Policy,
  deliveries: DeliveryMap,
): Omit<QueryEntry, 'v' | 'n' | 'prev'> | undefined {
  const t = q.subject.split('.');
  if (t[0] !== 'liaison' || t[1] !== 'v1' || t[2] !== 'svc') return undefined;
  const digest = sha256(q.data);
  if (isReplaySubject(q.subject)) {
    const replay = { kind: 'query' as const, at: q.at, subject: q.subject, service: 'exchange.replay', requester: t[5]!, digest, size: q.data.byteLength };
    return q.reply === undefined || responseRoute(q.reply) ? replay : { ...replay, mismatch: ['reply'] };
  }
  const claimed = agencyOfSource(q.header('ce-source'));
  // The subject's last token is the requesting agency: the broker lets only that agency publish there.
  const asker = t.length === 6 ? t[5] : undefined;
  const requester = q.signer?.sender ?? asker ?? claimed;
  if (t.length !== 6 || requester === undefined) return undefined;
  const mismatch = q.signer?.sender !== undefined && claimed !== undefined && claimed !== q.signer.sender ? ['ce-source'] : [];
  if (q.signer?.sender !== undefined && asker !== undefined && asker !== q.signer.sender) mismatch.push('subject');
  if (q.reply !== undefined && !responseRoute(q.reply)) mismatch.push('reply');
  const id = q.header('ce-id');
  const server = deliveries.server(policy, t[4]!);
  return {
    kind: 'query',
    at: q.at,
    subject: q.subject,
    service: `${t[3]}.${t[4]}`,
    requester,
    ...(server ? { server } : {}),
    ...(id ? { id } : {}),
    type: t[4]!,
    digest,
    size: q.data.byteLength,
    ...(q.signer?.unverified ? { unverified: q.signer.unverified } : {}),
    ...(mismatch.length ? { mismatch } : {}),
  };
}

/** True for a replay request subject (`liaison.v1.svc.exchange.replay.<agency>`): unsigned JSON, the subject names the agency. */
export function isReplaySubject(subject: string): boolean {
  const t = subject.split('.');
  return t.length === 6 && t[2] === 'svc' && t[3] === 'exchange' && t[4] === 'replay';
}
