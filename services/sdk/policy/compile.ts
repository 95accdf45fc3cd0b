import { LiaisonError } from '../errors.ts';
import {
  DIRECTORY_UPDATE_SUBJECT,
  QUARANTINE_STREAM,
  QUARANTINE_SUBJECTS,
  STATUS_PING_SUBJECT,
  SUBJECT_ROOT,
  bucketChangesSubject,
  bucketName,
  consumerFilter,
  agencyJsApi,
  consumerName,
  directoryRequestSubject,
  familyStreamSubjects,
  inboxPrefix,
  quarantineServiceSubject,
  quarantineSubject,
  peekSubject,
  replaySubject,
  retractSubject,
  serviceSubject,
  statusSubject,
  streamName,
  type Scope,
} from '../subjects.ts';
import { TIERS, type Tier } from '../tier.ts';
import { CONTROL_TYPES } from './builtin.ts';
import { attachmentBuckets, attachmentReadRights } from './attachments.ts';
import { receiveCeiling } from './decide.ts';
import { maxOfflineAllowanceMs } from './edge.ts';
import { QUARANTINE_RETENTION_MS, retentionOf, type BucketKind, type CopyScope, type Policy, type TypeCatalog } from './model.ts';

/** NATS user permissions of one agency (allow lists only; everything else is denied). */
export interface CompiledPermissions {
  pub: { allow: string[] };
  sub: { allow: string[] };
  /** Never set by the compiler (agencies get no NATS `resp` right: see {@link SERVICE_RESPONSES}); kept for old records. */
  resp?: { max: number; ttlMs: number };
}

/** Request types some role of the policy serves. */
export function servedTypes(policy: Policy): Set<string> {
  return new Set(Object.values(policy.roles).flatMap((r) => r.serve));
}

/** Request types an agency serves (over its roles). */
export function agencyServes(policy: Policy, agencyId: string): string[] {
  const roles = policy.agencies[agencyId]?.roles ?? [];
  return sortedUnique(roles.flatMap((r) => policy.roles[r]?.serve ?? []));
}

/** A JetStream stream the exchange provisions. */
export interface StreamSpec {
  name: string;
  subjects: string[];
  maxAgeMs: number;
  duplicateWindowMs: number;
}

/** A durable pull consumer (explicit ack) the exchange provisions for one agency, type and scope. */
export interface ConsumerSpec {
  agency: string;
  stream: string;
  /** `<agency>__<Type>__direct|all`, plus `__r<k>` for replica k > 1. */
  name: string;
  filterSubject: string;
  /** The agency's ceiling for the type in this scope. */
  tier: Tier;
  type: string;
  scope: Scope;
  /** Which replica of the agency's services reads it (1 unless the agency has `replicas`). */
  replica: number;
  /** {@link MAX_ACK_PENDING}: the SDK's in-flight window for observers (in order per instance; see there). */
  maxAckPending: number;
  /** {@link ACK_WAIT_MS}. */
  ackWaitMs: number;
}

/** A KV bucket or object store the exchange provisions for one agency's state. */
export interface BucketSpec {
  agency: string;
  kind: BucketKind;
  /** The name in the policy (`cases`). */
  name: string;
  /** The JetStream bucket name, `<agency>_<name>`. */
  bucket: string;
  /** Entries expire after this long (absent: kept until overwritten). */
  maxAgeMs?: number;
}

/** JetStream duplicate window of every stream (Nats-Msg-Id dedupe). */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

const SCOPES: readonly [CopyScope, Scope][] = [
  ['direct', 'direct'],
  ['broadcast', 'all'],
  ['observe', 'observe'],
];

/**
 * Unacknowledged messages a consumer may have out. Observers: the SDK's in-flight window (64,
 * MAX_IN_FLIGHT): one instance gets its observer stream in order and keeps the order where it
 * matters (the case registry: each case's messages one after another, different cases at once —
 * services/workflows/partition.ts). Instances sharing an observer consumer each get a part of the
 * stream: order holds within each part, not across them (the registry's compare-and-set still applies
 * every transition exactly once). Was 1 (strict order across instances, one message at a time).
 */
export const MAX_ACK_PENDING = { default: 10_000, observe: 64 } as const;

/**
 * How long a delivered message may stay unacknowledged before it is redelivered (the SDK keeps the
 * copies it holds alive with `working()`). A crashed observer's messages come back sooner.
 */
export const ACK_WAIT_MS = { default: 30_000, observe: 5_000 } as const;

function familyOf(catalog: TypeCatalog, type: string): string {
  const family = catalog.familyOf(type);
  if (family === undefined) throw new LiaisonError('ERR_TYPE_UNKNOWN', `policy names type "${type}", which the catalogue does not define`, { type });
  return family;
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/** The types an agency's roles may send, plus the built-in control types (builtin.ts), sorted. */
export function sendableTypes(policy: Policy, agencyId: string): string[] {
  const a = policy.agencies[agencyId];
  if (!a) return [];
  return sortedUnique([...a.roles.flatMap((r) => policy.roles[r]?.send ?? []), ...CONTROL_TYPES]);
}

function agencyConsumers(policy: Policy, agencyId: string, catalog: TypeCatalog): ConsumerSpec[] {
  const a = policy.agencies[agencyId];
  if (!a) return [];
  const types = sortedUnique([...a.roles.flatMap((r) => (policy.roles[r]?.receive ?? []).flatMap((rule) => rule.types)), ...CONTROL_TYPES]);
  const out: ConsumerSpec[] = [];
  for (const type of types) {
    const family = familyOf(catalog, type);
    for (const [copyScope, scope] of SCOPES) {
      const ceiling = receiveCeiling(policy, agencyId, type, copyScope);
      if (!ceiling) continue;
      for (let replica = 1; replica <= (a?.replicas ?? 1); replica++) {
        out.push({
          agency: agencyId,
          stream: streamName(family),
          name: consumerName(agencyId, type, scope, replica),
          filterSubject: consumerFilter(agencyId, ceiling.tier, family, type, scope),
          tier: ceiling.tier,
          type,
          scope,
          replica,
          maxAckPending: scope === 'observe' ? MAX_ACK_PENDING.observe : MAX_ACK_PENDING.default,
          ackWaitMs: scope === 'observe' ? ACK_WAIT_MS.observe : ACK_WAIT_MS.default,
        });
      }
    }
  }
  return out;
}

/**
 * The NATS permissions of an agency. Publish: its sendable types on every tier with its own sender
 * token (recipient `*`), its quarantine subject, its own quarantine listing, directory/replay/retract/status/peek and service
 * request subjects, pull/info/ack of its own consumers only, and — for a serving agency — the inboxes of
 * its permitted requesters. Subscribe: its own inbox prefix, directory pushes, its ceiling subjects
 * (directed to itself and broadcast) and the request subjects it serves. No `>`, no `_INBOX.>`, no `$JS.API.>`.
 */
export function compilePermissions(policy: Policy, agencyId: string, catalog: TypeCatalog): CompiledPermissions {
  if (!policy.agencies[agencyId]) throw new LiaisonError('ERR_AGENCY_UNKNOWN', `"${agencyId}" is not an agency of policy ${policy.name}`, { agency: agencyId });
  const pub = [quarantineSubject(agencyId), quarantineServiceSubject(agencyId), directoryRequestSubject(agencyId), replaySubject(agencyId), retractSubject(agencyId), statusSubject(agencyId), peekSubject(agencyId)];
  for (const type of sendableTypes(policy, agencyId)) {
    const family = familyOf(catalog, type);
    for (const tier of TIERS) pub.push(`${SUBJECT_ROOT}.${tier}.${family}.${type}.${agencyId}.*`);
  }
  const sub = [`${inboxPrefix(agencyId)}.>`, DIRECTORY_UPDATE_SUBJECT, STATUS_PING_SUBJECT];
  for (const c of agencyConsumers(policy, agencyId, catalog)) {
    pub.push(agencyJsApi(`CONSUMER.INFO.${c.stream}.${c.name}`), agencyJsApi(`CONSUMER.MSG.NEXT.${c.stream}.${c.name}`), `$JS.ACK.${c.stream}.${c.name}.>`);
    sub.push(c.filterSubject);
  }
  const served = servedTypes(policy);
  for (const type of sendableTypes(policy, agencyId)) {
    if (served.has(type)) pub.push(serviceSubject(familyOf(catalog, type), type, agencyId));
  }
  for (const b of agencyBuckets(policy, agencyId, catalog)) {
    pub.push(...bucketPermissions(b));
    sub.push(...bucketSubscriptions(b));
  }
  pub.push(...attachmentReadRights(policy, agencyId, catalog));
  const serves = agencyServes(policy, agencyId);
  for (const type of serves) sub.push(serviceSubject(familyOf(catalog, type), type, '*'));
  if (serves.length > 0) pub.push(SERVICE_RESPONSES);
  return { pub: { allow: sortedUnique(pub) }, sub: { allow: sortedUnique(sub) } };
}

/**
 * Where a serving agency answers: the service-import response routes (`_R_.>`) of its own account, which the
 * server maps back to each requester's own reply subject, in the requester's own account. Not NATS `resp`
 * (publish to whatever reply subject a request names), whose effect the broker cannot bound.
 */
export const SERVICE_RESPONSES = '_R_.>';

/**
 * The state buckets of one agency (over its roles), sorted by bucket name; every agency of the
 * policy also gets the built-in {@link HANDLED_BUCKET} KV bucket (its SDK's durable record of handled
 * messages), kept as long as the longest stream retention plus {@link HANDLED_MARGIN_MS}. Given the
 * catalogue, also its attachment stores as a sender (attachments.ts).
 */
export function agencyBuckets(policy: Policy, agencyId: string, catalog?: TypeCatalog): BucketSpec[] {
  if (!policy.agencies[agencyId]) return [];
  const roles = policy.agencies[agencyId]?.roles ?? [];
  const out = new Map<string, BucketSpec>();
  for (const r of roles) {
    const state = policy.roles[r]?.state;
    for (const kind of ['kv', 'objects'] as const) {
      for (const name of state?.[kind] ?? []) {
        const bucket = bucketName(agencyId, name);
        out.set(`${kind}:${bucket}`, { agency: agencyId, kind, name, bucket });
      }
    }
  }
  for (const b of catalog ? attachmentBuckets(policy, agencyId, catalog) : []) out.set(`objects:${b.bucket}`, b);
  const handled = bucketName(agencyId, HANDLED_BUCKET);
  out.set(`kv:${handled}`, { agency: agencyId, kind: 'kv', name: HANDLED_BUCKET, bucket: handled, maxAgeMs: handledMaxAgeMs(policy) });
  return [...out.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
}

/** The built-in KV bucket (`<agency>_handled`) where an agency's SDK records each message it handed to a handler. */
export const HANDLED_BUCKET = 'handled';

/** How much longer than the longest stream retention a handled record is kept (a backlog read at the last moment). */
export const HANDLED_MARGIN_MS = 24 * 3_600_000;

/**
 * Max age of the handled bucket: every copy a stream still holds (so may redeliver) has its record, and so has
 * every copy a receiver may still accept. A copy of a sender with an offline allowance (policy `edge`, edge.ts) is
 * accepted when stored up to that allowance (plus clock skew) after it was signed; JetStream's duplicate window
 * (2 min) does not reach that far, so a re-published envelope within the allowance is stored again and only the
 * record recognises it — possibly read a whole retention later. Hence longest retention + largest allowance +
 * {@link HANDLED_MARGIN_MS} (which also covers the clock skew and the default tolerance, minutes).
 */
export function handledMaxAgeMs(policy: Policy): number {
  return Math.max(policy.defaultRetentionMs, ...Object.values(policy.retention)) + maxOfflineAllowanceMs(policy) + HANDLED_MARGIN_MS;
}

/** Every agency's state buckets (given the catalogue, with their attachment stores). */
export function compileBuckets(policy: Policy, catalog?: TypeCatalog): BucketSpec[] {
  return Object.keys(policy.agencies).flatMap((id) => agencyBuckets(policy, id, catalog));
}

/**
 * Publish rights on one bucket and nothing else of the JetStream API: write its keys or objects, read
 * them one stored message at a time (direct get; message get for nats.js's object `put`), its stream's
 * info, never create, delete or reconfigure streams. No consumer rights at all: nats-server 2.9 never
 * checks a push consumer's deliver subject against its creator's permissions, so a consumer-create right
 * would let the agency have the server publish its bucket's values on any subject. Live changes come
 * through {@link bucketSubscriptions} instead. An object store also needs purge of its own stream
 * (replacing an object purges the old chunks).
 */
export function bucketPermissions(b: BucketSpec): string[] {
  const stream = bucketStream(b);
  const rights = [
    // nats.js writes a KV key through the JetStream API prefix, an object chunk on its own subject.
    b.kind === 'kv' ? agencyJsApi(bucketSubject(b)) : bucketSubject(b),
    agencyJsApi(`STREAM.INFO.${stream}`),
    agencyJsApi(`STREAM.MSG.GET.${stream}`),
    agencyJsApi(`DIRECT.GET.${stream}`),
    agencyJsApi(`DIRECT.GET.${stream}.>`),
  ];
  if (b.kind === 'objects') rights.push(agencyJsApi(`STREAM.PURGE.${stream}`));
  return rights;
}

/** The JetStream stream behind a bucket (`KV_<bucket>`, `OBJ_<bucket>`). */
export function bucketStream(b: Pick<BucketSpec, 'kind' | 'bucket'>): string {
  return b.kind === 'kv' ? `KV_${b.bucket}` : `OBJ_${b.bucket}`;
}

/**
 * Subscribe rights on one bucket: a KV bucket's change notices (the exchange republishes each write's headers on
 * {@link bucketChangesSubject}), so its owner follows changes without a consumer. Object stores are not followed.
 */
export function bucketSubscriptions(b: BucketSpec): string[] {
  return b.kind === 'kv' && b.name !== HANDLED_BUCKET ? [`${bucketChangesSubject(b.bucket)}.>`] : [];
}

function bucketSubject(b: BucketSpec): string {
  return b.kind === 'kv' ? `$KV.${b.bucket}.>` : `$O.${b.bucket}.>`;
}

/** One stream per catalogue family (its four tier subjects, retention from the policy) plus quarantine, sorted by name. */
export function compileStreams(policy: Policy, catalog: TypeCatalog): StreamSpec[] {
  const families = sortedUnique(catalog.types().map((t) => familyOf(catalog, t)));
  const streams: StreamSpec[] = families.map((family) => ({
    name: streamName(family),
    subjects: familyStreamSubjects(family),
    maxAgeMs: retentionOf(policy, family),
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
  }));
  streams.push({ name: QUARANTINE_STREAM, subjects: [...QUARANTINE_SUBJECTS], maxAgeMs: QUARANTINE_RETENTION_MS, duplicateWindowMs: DUPLICATE_WINDOW_MS });
  return streams.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every agency's durable consumers: one per receivable (type, scope), filtered at its ceiling tier; sorted by name. */
export function compileConsumers(policy: Policy, catalog: TypeCatalog): ConsumerSpec[] {
  return Object.keys(policy.agencies)
    .flatMap((id) => agencyConsumers(policy, id, catalog))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
