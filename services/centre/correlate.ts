/**
 * The centre's correlation of one value found in one message: the occurrence joins the value's record
 * and, when the value is a link, the alerts it calls for are planned and remembered on the record in
 * the same compare-and-set write ({@link EntityWriter}, batched with other messages' changes to the
 * value), then sent, all recipients at once, or handed to the {@link AlertCoalescer}, which sends one
 * alert per (value, recipient) for a burst of messages.
 */
import type { LiaisonClient } from '../sdk/client/client.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { isLiaisonError } from '../sdk/errors.ts';
import { derivedUuidv7 } from '../sdk/ids.ts';
import type { Logger } from '../sdk/logging.ts';
import { receiveCeiling, type Policy } from '../sdk/policy/index.ts';
import { visibleAt } from '../sdk/tier.ts';
import type { AlertCoalescer, OfferedAlert } from './alert-coalescer.ts';
import { alertsRecipient, isLink, planAlert, type PlannedAlert } from './alerts.ts';
import type { ExtractedEntity } from './entities.ts';
import type { EntityChange, EntityWriter } from './entity-writer.ts';
import { entityHash, isOccurrenceOf, MAX_ALERTS, MAX_OCCURRENCES, type EntityRecord, type Occurrence, type SentAlert } from './store.ts';

/** The counters correlation moves (a part of CentreStats). */
export interface CorrelationStats {
  occurrences: number;
  alerts: number;
  withheld: number;
  undeliverable: number;
}

/** What correlating needs of the centre. */
export interface CorrelateContext {
  client: LiaisonClient;
  writer: EntityWriter;
  logger: Logger;
  stats: CorrelationStats;
  /** The centre's clock, now (first sight, link time). */
  now(): number;
  /** Coalesces alerts per (value, recipient) (absent: each alert goes out at once). */
  alerts?: AlertCoalescer;
}

/** An alert planned for one recipient, with the id and the entry it is remembered under; its body is built on first use. */
interface PlannedSend {
  plan: () => PlannedAlert;
  sent: SentAlert;
}

/** The alert `recipient` gets about `linked` (which {@link alertsRecipient} admitted), built once, on first use: most are replaced before they go. */
function lazyPlan(policy: Policy, linked: EntityRecord, recipient: string, trigger: Occurrence): () => PlannedAlert {
  let plan: PlannedAlert | undefined;
  return () => (plan ??= planAlert(policy, linked, recipient, trigger)!);
}

/** What the last run of a change decided (the run that was written). */
interface ChangeRun {
  added: boolean;
  planned: PlannedSend[];
  /** Ids of planned alerts this write remembered for the first time. */
  fresh: Set<string>;
  /** Involved agencies the policy does not let receive CorrelationAlert. */
  unreachable: string[];
}

/**
 * The record as it stood right after the occurrence at `index` joined it: what its alerts are planned
 * against (a batch applies its changes one after another, so each sees only those before it; a
 * redelivered message, whose occurrence is already recorded, sees no later one either).
 */
function asOf(record: EntityRecord, index: number): EntityRecord {
  return index === record.occurrences.length - 1 ? record : { ...record, occurrences: record.occurrences.slice(0, index + 1) };
}

/** Add `occ` to the record (idempotent; none past {@link MAX_OCCURRENCES}); its index, or -1 when it is not there. */
function withOccurrence(base: EntityRecord, occ: Occurrence, value: string | undefined, now: number, run: ChangeRun): { record: EntityRecord; index: number } {
  const known = base.occurrences.findIndex((o) => isOccurrenceOf(o, occ.agency, occ.messageId));
  if (known >= 0 || base.occurrences.length >= MAX_OCCURRENCES) return { record: base, index: known };
  const record: EntityRecord = { ...base, occurrences: [...base.occurrences, occ] };
  if (value !== undefined && record.value === undefined) record.value = value;
  if (record.linkedAt === undefined && isLink(record)) record.linkedAt = now;
  run.added = true;
  return { record, index: record.occurrences.length - 1 };
}

/** Plan each involved agency's alert about a link `trigger` made (its id from the message's sender and id, the value and the recipient). */
function planAlerts(ctx: CorrelateContext, msg: ReceivedMessage, hash: string, linked: EntityRecord, trigger: Occurrence, run: ChangeRun): void {
  const agencies = [...new Set(linked.occurrences.map((x) => x.agency))].sort();
  // The policy in force now, when the body is built later too.
  const policy = ctx.client.policy;
  for (const recipient of agencies) {
    if (recipient === ctx.client.id) continue;
    if (!alertsRecipient(linked, recipient)) continue;
    const plan = lazyPlan(policy, linked, recipient, trigger);
    if (!receiveCeiling(policy, recipient, 'CorrelationAlert', 'direct')) {
      run.unreachable.push(recipient);
      continue;
    }
    // From the message's sender and id: another sender's message with the same id gets alerts of its own.
    const id = derivedUuidv7(msg.header.id, 'correlation', msg.header.sender, hash, recipient);
    run.planned.push({ plan, sent: { id, to: recipient, trigger: trigger.messageId, triggerSender: trigger.agency } });
  }
}

/** Remember the planned alerts on the record (an id already known is not added twice). */
function withAlerts(record: EntityRecord, run: ChangeRun): EntityRecord {
  const known = new Set((record.alerts ?? []).map((a) => a.id));
  const fresh = run.planned.map((p) => p.sent).filter((a) => !known.has(a.id));
  if (fresh.length === 0) return record;
  for (const a of fresh) run.fresh.add(a.id);
  return { ...record, alerts: [...(record.alerts ?? []), ...fresh].slice(-MAX_ALERTS) };
}

/** The change that records `occ` of value `e` and plans its alerts, noting its decisions in `run`. */
function occurrenceChange(ctx: CorrelateContext, msg: ReceivedMessage, e: ExtractedEntity, hash: string, occ: Occurrence, run: ChangeRun): EntityChange {
  const namespace = e.key.slice(0, e.key.indexOf(':'));
  const value = visibleAt(e.tier, 'operational') ? e.value : undefined;
  return (cur) => {
    Object.assign(run, { added: false, planned: [], fresh: new Set(), unreachable: [] } satisfies ChangeRun);
    const now = ctx.now();
    const base: EntityRecord = cur ?? { kind: e.kind, namespace, reference: `MAC-${hash.slice(0, 10).toUpperCase()}`, firstSeen: now, occurrences: [] };
    const { record, index } = withOccurrence(base, occ, value, now, run);
    if (index < 0) return cur ?? record;
    const linked = asOf(record, index);
    if (isLink(linked)) planAlerts(ctx, msg, hash, linked, record.occurrences[index]!, run);
    return withAlerts(record, run);
  };
}

/** Drop remembered alerts that were never sent (refused by the policy at send time, or replaced by a newer one before they went). */
export function forgetAlerts(ids: Set<string>): EntityChange {
  return (cur) => (cur && cur.alerts?.some((a) => ids.has(a.id)) ? { ...cur, alerts: cur.alerts.filter((a) => !ids.has(a.id)) } : cur);
}

/**
 * Send one alert; false when the policy refuses it. Counted and logged here, once per alert sent (a
 * coalesced alert is one send however many messages it covers).
 */
export async function deliverAlert(ctx: Pick<CorrelateContext, 'client' | 'stats' | 'logger'>, a: OfferedAlert): Promise<boolean> {
  const { plan, sent, ref } = a;
  try {
    await ctx.client.send('CorrelationAlert', plan.body, {
      id: sent.id,
      to: sent.to,
      handling: plan.handling,
      tlp: plan.tlp,
      caseRef: plan.caseRef,
      correlationId: ref,
      ...(plan.causationId ? { causationId: plan.causationId } : {}),
    });
  } catch (err) {
    if (isLiaisonError(err) && err.code.startsWith('ERR_POLICY')) {
      ctx.stats.undeliverable++;
      ctx.logger.warn({ code: err.code, to: sent.to, type: 'CorrelationAlert' }, `alert not sent: ${err.message}`);
      return false;
    }
    throw err;
  }
  ctx.stats.alerts++;
  if (plan.hidden > 0 && !(plan.body.occurrences as { agency: string }[]).some((x) => x.agency !== sent.to)) ctx.stats.withheld++;
  ctx.logger.info({ to: sent.to, ref, kind: plan.body.matchedKind, hidden: plan.hidden, msgId: sent.trigger }, 'correlation alert sent');
  return true;
}

/** Wait for every promise; then throw the first failure, if any (no work is left running behind a failed handler). */
export async function settleAll<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** What {@link recordEntity} leaves to wait for: the alerts the value's record calls for, sent. */
export interface Recorded {
  /** Settles once every alert this occurrence called for is out (or refused); never rejects unobserved. */
  alerted: Promise<void>;
}

/**
 * Correlate one value of a message (`hash`: its {@link entityHash}): record its occurrence (with the alerts
 * it calls for) in one write, durable before this resolves, then hand those alerts on: to the
 * {@link AlertCoalescer} when the context has one (a newer alert to the same recipient about the value may
 * replace one, carrying its references), else straight out, all at once. Alert ids derive from the
 * message, so a redelivery re-sends the same ids (dropped as duplicates). An alert never sent (refused by
 * the policy, or replaced before it went) is taken off the record again, so the record lists only alerts
 * sent (one that a crash stopped between the write and the send stays listed: retracting it later finds
 * nothing, which is logged). The caller must await `alerted` before its message is acknowledged.
 */
export async function recordEntity(ctx: CorrelateContext, msg: ReceivedMessage, e: ExtractedEntity, hash: string, base: Omit<Occurrence, 'field' | 'fieldTier'>): Promise<Recorded> {
  const occ: Occurrence = { ...base, field: e.field, fieldTier: e.tier };
  const run: ChangeRun = { added: false, planned: [], fresh: new Set(), unreachable: [] };
  const written = await ctx.writer.update(hash, occurrenceChange(ctx, msg, e, hash, occ, run));
  if (run.added) ctx.stats.occurrences++;
  const ref = written?.record.reference ?? '';
  for (const to of run.unreachable) {
    ctx.stats.undeliverable++;
    ctx.logger.debug({ to, ref }, 'involved agency may not receive CorrelationAlert');
  }
  const index = written?.record.occurrences.findIndex((o) => isOccurrenceOf(o, occ.agency, occ.messageId)) ?? -1;
  const offers = run.planned.map((p): OfferedAlert => {
    const offer = { hash, sent: p.sent, ref, revision: written?.revision ?? 0, index, fresh: run.fresh.has(p.sent.id) };
    // The body is built when the alert is sent (deliverAlert reads it), not for an alert a newer one replaces.
    return Object.defineProperty(offer, 'plan', { get: p.plan, enumerable: true }) as OfferedAlert;
  });
  const alerted = ctx.alerts ? settleAll(offers.map((a) => ctx.alerts!.offer(a))).then(() => undefined) : sendNow(ctx, hash, offers);
  alerted.catch(() => undefined); // Observed by the caller; a sibling value's failure must not leave it unhandled.
  return { alerted };
}

/** Send alerts without coalescing, all at once; then take the refused ones off the record. */
async function sendNow(ctx: CorrelateContext, hash: string, offers: OfferedAlert[]): Promise<void> {
  const sent = await settleAll(offers.map((a) => deliverAlert(ctx, a)));
  const unsent = new Set(offers.filter((a, i) => !sent[i] && a.fresh).map((a) => a.sent.id));
  if (unsent.size) await ctx.writer.update(hash, forgetAlerts(unsent));
}

/** {@link recordEntity}, then wait for its alerts. */
export async function correlateEntity(ctx: CorrelateContext, msg: ReceivedMessage, e: ExtractedEntity, hash: string, base: Omit<Occurrence, 'field' | 'fieldTier'>): Promise<void> {
  await (await recordEntity(ctx, msg, e, hash, base)).alerted;
}
