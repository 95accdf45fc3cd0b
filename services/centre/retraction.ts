/**
 * The centre's side of a retraction (issue 6). When an agency retracts (or corrects) a message the
 * centre analysed, the centre drops what stood on it: the message's occurrences leave every value's
 * record (a link it alone made is undone), its facts leave the strategic reports, and each alert
 * that stood on it is recomputed: corrected (the recipient gets the alert as it should now read) or,
 * when the recipient is no longer part of a link, retracted. The alerts' retraction reasons name
 * only the centre's reference of the link, never the withdrawn record (the recipient may not have
 * been allowed to know it).
 */
import type { LiaisonClient } from '../sdk/client/client.ts';
import type { Clock } from '../sdk/clock.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { isLiaisonError, LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { isLink, planAlert } from './alerts.ts';
import type { MessageFacts } from './facts.ts';
import { isOccurrenceOf, MAX_CAS_ATTEMPTS, type CorrelationStore, type EntityRecord, type SentAlert } from './store.ts';

/** Counters of the centre's retraction handling. */
export interface RetractionStats {
  /** Retractions applied (the message's occurrences and facts dropped). */
  retracted: number;
  /** Retractions not from the original's sender: ignored (anyone may send a Retraction). */
  retractionsRefused: number;
  /** Retractions of messages the centre never analysed (nothing to drop). */
  retractionsUnknown: number;
  /** Alerts retracted because the link they reported no longer stands for their recipient. */
  alertsRetracted: number;
  /** Alerts corrected (re-sent as they now read) because a record they stood on was retracted. */
  alertsCorrected: number;
}

/** What {@link applyRetraction} needs of the centre. */
export interface RetractionContext {
  client: LiaisonClient;
  store: CorrelationStore;
  clock: Clock;
  logger: Logger;
  stats: RetractionStats;
  /** True for a type the centre analyses (others have nothing to drop). */
  analyses(type: string): boolean;
  /** How long to wait for the original when its Retraction overtook it (it travels on another consumer). */
  waitMs: number;
  /**
   * Send the alerts still waiting to be coalesced ({@link AlertCoalescer.settle}): a record lists an alert
   * from its write, and the retraction must not recompute one that is yet to go.
   */
  settleAlerts?: () => Promise<void>;
}

/** What happened to one Retraction. */
export type RetractionOutcome = 'applied' | 'repeat' | 'refused' | 'unknown';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * Apply a Retraction the centre received. Only the original's sender may retract it: the facts the
 * centre kept of the original name its sender, and a Retraction from anyone else is logged and
 * ignored. Each step is idempotent, and the facts are marked last, so a redelivery after a crash
 * finishes the work.
 */
export async function applyRetraction(ctx: RetractionContext, msg: ReceivedMessage): Promise<RetractionOutcome> {
  const { store, logger, stats } = ctx;
  const originalId = text(msg.body.originalId);
  const originalType = text(msg.body.originalType);
  if (!originalId || (originalType && !ctx.analyses(originalType))) {
    stats.retractionsUnknown++;
    logger.debug({ msgId: msg.header.id, originalId, originalType }, 'retraction of a message the centre does not analyse');
    return 'unknown';
  }
  // The original is the Retraction's sender's own message (a message is (sender, id)): another
  // sender's message with the same id is never touched.
  const sender = msg.header.sender;
  const waitUntil = Date.now() + ctx.waitMs;
  let facts = await store.facts(sender, originalId);
  while (!facts && Date.now() < waitUntil) {
    await sleep(50);
    facts = await store.facts(sender, originalId);
  }
  if (!facts) {
    const others = (await store.factsOf(originalId)).map((f) => f.agency);
    if (others.length) {
      stats.retractionsRefused++;
      logger.warn(
        { code: 'ERR_RETRACT_NOT_SENDER', msgId: msg.header.id, originalId, sender, originalSenders: others },
        `${sender} may not retract ${originalId}: only its sender (${others.join(', ')}) may; ignored`,
      );
      return 'refused';
    }
    stats.retractionsUnknown++;
    logger.info({ msgId: msg.header.id, originalId, sender }, 'retraction of a message the centre never handled: nothing to drop');
    return 'unknown';
  }
  if (facts.retracted) return 'repeat';

  await ctx.settleAlerts?.();
  const hashes = facts.entityHashes ?? (await store.allEntities()).filter((e) => e.record.occurrences.some((o) => isOccurrenceOf(o, sender, originalId))).map((e) => e.hash);
  for (const hash of hashes) await dropOccurrence(ctx, hash, sender, originalId);
  const reason = text(msg.body.reason);
  const replacedBy = text(msg.body.replacedBy);
  const marked: MessageFacts = { ...facts, retracted: { at: ctx.clock.now(), retractionId: msg.header.id, reason, ...(replacedBy ? { replacedBy } : {}) } };
  await store.putFacts(marked);
  stats.retracted++;
  logger.info({ msgId: originalId, type: facts.type, sender: facts.agency, values: hashes.length, replacedBy: replacedBy || undefined }, 'retracted by its sender: occurrences and facts dropped');
  return 'applied';
}

/**
 * Remove the occurrence of `sender`'s message `messageId` from one value's record and settle the
 * alerts that stood on it, in one compare-and-set of the record (the alert actions are idempotent, so
 * a conflict simply repeats them against the fresh record).
 */
async function dropOccurrence(ctx: RetractionContext, hash: string, sender: string, messageId: string): Promise<void> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cur = await ctx.store.entity(hash);
    if (!cur) return;
    const before = cur.record;
    const cut = before.occurrences.findIndex((o) => isOccurrenceOf(o, sender, messageId));
    if (cut < 0) return; // Removed before, with its alerts settled in the same write.
    const remaining = before.occurrences.filter((o) => !isOccurrenceOf(o, sender, messageId));
    const after: EntityRecord = { ...before, occurrences: remaining };
    if (!isLink(after)) delete after.linkedAt;
    after.alerts = await settleAlerts(ctx, before, after, cut);
    if (await ctx.store.replaceEntity(hash, cur.revision, remaining.length ? after : undefined)) return;
  }
  throw new LiaisonError('ERR_TIMEOUT', `correlation record ${hash} kept changing while retracting ${messageId}; the retraction will be redelivered`);
}

/**
 * The alerts that stood on the occurrence at index `cut` of `before` (it triggered them, or came
 * before their trigger) are recomputed from `after`, per recipient: the newest is corrected to what
 * the recipient's alert now reads ({@link planAlert}), the older ones retracted as superseded; when
 * the recipient is no longer part of a link, all of them are retracted. Returns the standing alerts.
 */
async function settleAlerts(ctx: RetractionContext, before: EntityRecord, after: EntityRecord, cut: number): Promise<SentAlert[]> {
  // Occurrences by (sender, id); alerts recorded before their trigger's sender was kept fall back to the id.
  const index = new Map(before.occurrences.map((o, i) => [`${o.agency} ${o.messageId}`, i]));
  const byId = new Map(before.occurrences.map((o, i) => [o.messageId, i]));
  const alerts = before.alerts ?? [];
  const stoodOn = (a: SentAlert) => ((a.triggerSender !== undefined ? index.get(`${a.triggerSender} ${a.trigger}`) : byId.get(a.trigger)) ?? -1) >= cut;
  const standing = alerts.filter((a) => !stoodOn(a));
  const affected = new Map<string, SentAlert[]>();
  for (const a of alerts.filter(stoodOn)) affected.set(a.to, [...(affected.get(a.to) ?? []), a]);
  const trigger = after.occurrences.at(-1);
  for (const [to, list] of affected) {
    const plan = trigger && isLink(after) ? planAlert(ctx.client.policy, after, to, trigger) : undefined;
    const newest = list.at(-1)!;
    for (const a of plan ? list.slice(0, -1) : list) {
      if (await retractAlert(ctx, a, `superseded: a record this alert stood on was withdrawn by its sender (${before.reference})`)) ctx.stats.alertsRetracted++;
    }
    if (!plan) continue;
    const corrected = await correctAlert(ctx, newest, plan.body, `recomputed: a record this alert stood on was withdrawn by its sender (${before.reference})`);
    if (corrected) {
      ctx.stats.alertsCorrected++;
      standing.push({ id: corrected, to, trigger: trigger!.messageId, triggerSender: trigger!.agency });
    }
  }
  if (affected.size) ctx.logger.info({ ref: before.reference, recipients: [...affected.keys()], linked: isLink(after) }, 'alerts recomputed after a retraction');
  return standing;
}

/** Retract an alert; false when the exchange no longer holds it (aged out of its stream), which is logged. */
async function retractAlert(ctx: RetractionContext, alert: SentAlert, reason: string): Promise<boolean> {
  try {
    await ctx.client.retract(alert.id, reason);
    return true;
  } catch (err) {
    if (isLiaisonError(err) && err.code === 'ERR_RETRACT_UNKNOWN') {
      ctx.logger.warn({ msgId: alert.id, to: alert.to }, `alert could not be retracted: ${err.message}`);
      return false;
    }
    throw err;
  }
}

/** Correct an alert; the id of its replacement, or undefined when the exchange no longer holds it. */
async function correctAlert(ctx: RetractionContext, alert: SentAlert, body: Record<string, unknown>, reason: string): Promise<string | undefined> {
  try {
    return (await ctx.client.correct(alert.id, body, reason)).correctedId;
  } catch (err) {
    if (isLiaisonError(err) && err.code === 'ERR_RETRACT_UNKNOWN') {
      ctx.logger.warn({ msgId: alert.id, to: alert.to }, `alert could not be corrected: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}
