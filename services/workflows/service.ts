import { migrateCaseAliases } from './migrate-aliases.ts';
import type { LiaisonClient } from '../sdk/client/client.ts';
import type { Reply } from '../sdk/client/rpc.ts';
import { systemClock, type Clock } from '../sdk/clock.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { LiaisonError, isLiaisonError, type ErrorCode } from '../sdk/errors.ts';
import { derivedUuidv7 } from '../sdk/ids.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { agencyBuckets } from '../sdk/policy/index.ts';
import { inboxPrefix } from '../sdk/subjects.ts';
import { DEFINITIONS } from './definitions/index.ts';
import { allowedNow, applyMessage, dueDeadlines, openCase, routeMessage, type Applied } from './engine.ts';
import type { CaseRecord, TransitionContext, WorkflowDefinition, WorkflowMessage } from './model.ts';
import { appliedFrom, openingKey, referenceOwners } from './identity.ts';
import { answerCaseQuery } from './query.ts';
import { awaitsRetraction, correctsOpening, reopenCase, reopens, retractFromCase, retractionFacts } from './retraction.ts';
import { CaseStore, type CASE_CACHE, type StoredCase } from './store.ts';
import { CasePartitions } from './partition.ts';
import { directoryView } from './directory-view.ts';

/** Counters of a running case registry. */
export interface WorkflowStats {
  applied: number;
  opened: number;
  rejected: Partial<Record<ErrorCode, number>>;
  /** Messages applied before (redeliveries after a crash), skipped. */
  replayed: number;
  conflicts: number;
  deadlineEffects: number;
  /** Retractions applied to a case (withdrawn, undone or marked). */
  retracted: number;
  notices: number;
  /** Notices the policy does not let the registry send (logged, dropped). */
  undeliverable: number;
}

/** A running case registry. */
export interface Workflows {
  readonly stats: WorkflowStats;
  /** Apply every deadline that has passed by the injected clock (also runs on a timer). */
  tick(): Promise<void>;
  /** The cases this replica holds in memory: those with deadlines or notices pending, and the most recently used others (`cacheCases`). */
  cases(): CaseRecord[];
  /** What memory holds: cases in it, cases dropped from it so far (still in the bucket), scans of the bucket, changes the watch read back (`rereads`) or knew already (`skipped`). */
  memory(): { cases: number; evicted: number; scans: number; rereads: number; skipped: number };
  stop(): Promise<void>;
}

/** Options of {@link startWorkflows}. */
export interface WorkflowOptions {
  /** A connection of an agency whose roles observe the workflow types, serve CaseQuery and keep `state: { kv: [cases] }`. */
  client: LiaisonClient;
  /** The clock deadlines run on (inject a scaled or manual clock to run days in seconds). */
  clock?: Clock;
  logger?: Logger;
  /** Real milliseconds between deadline checks (default 250; 0: only when {@link Workflows.tick} is called). */
  tickMs?: number;
  definitions?: readonly WorkflowDefinition[];
  /** Called with every workflow message the registry received, before applying it (simulations, audit). */
  observe?: (msg: ReceivedMessage) => void;
  /** A follow-up whose case is not (yet) known waits this long in process (default 2 000 ms)… */
  unknownCaseWaitMs?: number;
  /** …then is redelivered until its delivery count reaches this (default 2), then refused (ERR_WORKFLOW_UNKNOWN_CASE). */
  unknownCaseRetries?: number;
  /**
   * Called when a message's turn on its case comes, before it is applied; the transition waits for
   * it (instrumentation: tests hold a case with it, or count what runs at once). `caseKey` is '' for a
   * message of no known case.
   */
  beforeApply?: (caseKey: string, msg: ReceivedMessage) => void | Promise<void>;
  /** Messages each consumer hands over at once (default {@link WORKFLOW_CONCURRENCY}; 1: one after another, as before issue 13). */
  concurrency?: number;
  /**
   * Cases kept in memory besides those with deadlines or notices pending (default {@link CASE_CACHE}):
   * the most recently used; any other is read back from the bucket when needed.
   */
  cacheCases?: number;
}

/**
 * Messages one consumer hands the registry at once (the SDK's `concurrency`): different cases are
 * applied in parallel, each case's messages one after another (partition.ts).
 */
export const WORKFLOW_CONCURRENCY = 32;

const MAX_CAS_ATTEMPTS = 20;

/** The message types the definitions read (what the case registry consumes besides Retraction). */
export function workflowTypes(defs: readonly WorkflowDefinition[] = DEFINITIONS): string[] {
  return [...new Set(defs.flatMap((d) => [d.opens.type, ...d.follows.map((f) => f.type)]))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function toWorkflowMessage(r: ReceivedMessage): WorkflowMessage {
  return {
    id: r.header.id,
    type: r.type,
    sender: r.header.sender,
    recipient: r.header.recipient,
    externalRef: r.header.caseRef,
    causationId: r.header.causationId,
    kid: r.kid,
    createdAt: r.header.createdAt.getTime(),
    body: r.body,
  };
}

/**
 * Start the case registry (¶13–15, ¶8): observe the workflow messages between agencies, apply each
 * to its case in the KV bucket (compare-and-set, retried on conflict), publish the signed notices
 * (state changes to the parties, rejections to the sender and its recipient) and acknowledge the
 * message only then. A case keeps its pending notices in an outbox until they are published, and
 * notice ids derive from their cause, so a crash at any point neither loses nor doubles an effect.
 */
export async function startWorkflows(o: WorkflowOptions): Promise<Workflows> {
  const client = o.client;
  const clock = o.clock ?? systemClock;
  const logger = (o.logger ?? silentLogger()).child({ service: 'workflows', agency: client.id });
  const defs = o.definitions ?? DEFINITIONS;
  const retries = o.unknownCaseRetries ?? 2;
  const waitMs = o.unknownCaseWaitMs ?? 2_000;
  const bucket = agencyBuckets(client.policy, client.id).find((b) => b.kind === 'kv' && b.name === 'cases');
  if (!bucket) throw new LiaisonError('ERR_CONFIG_INVALID', `${client.id} keeps no "cases" KV bucket under the policy (give its role state: { kv: [cases] })`);
  await migrateCaseAliases(client.nc, bucket.bucket, logger);
  const store = await CaseStore.open(client.nc, bucket.bucket, { cacheCases: o.cacheCases, inboxPrefix: inboxPrefix(client.id) });
  const stats: WorkflowStats = { applied: 0, opened: 0, rejected: {}, replayed: 0, conflicts: 0, deadlineEffects: 0, retracted: 0, notices: 0, undeliverable: 0 };
  const byName = new Map(defs.map((d) => [d.name, d]));
  // The directory as of the policy in force, built once per policy (directory-view.ts), not per message or case.
  const ctx = (): TransitionContext => {
    const view = directoryView(client.policy);
    return { now: clock.now(), agencies: view.agencies, directory: view.directory };
  };
  const supervisorsOf = (def: WorkflowDefinition) => directoryView(client.policy).holding(def.supervisor);

  async function send(type: string, body: Record<string, unknown>, to: string, id: string, c?: CaseRecord): Promise<void> {
    try {
      await client.send(type, body, { to, id, ...(c?.externalRef ? { caseRef: c.externalRef } : {}), correlationId: c?.ref ?? '' });
      stats.notices++;
    } catch (err) {
      if (isLiaisonError(err) && err.code.startsWith('ERR_POLICY')) {
        stats.undeliverable++;
        logger.warn({ code: err.code, to, type }, `notice not sent: ${err.message}`);
        return;
      }
      throw err;
    }
  }

  /** Cases whose outbox this process is publishing now. */
  const inFlight = new Set<string>();
  /** Outbox entries this process has published (stripped from the case at its next write). */
  const published = new Set<string>();
  const markPublished = (id: string) => {
    if (published.size >= 200_000) published.delete(published.values().next().value!);
    published.add(id);
  };

  /**
   * Publish a case's outbox (the entries not published yet), then remove them from the case. The
   * removal is a compare-and-set of its own; `clear: 'later'` leaves it to the background (the
   * message is acknowledged at once; the next write of the case strips them anyway).
   */
  async function flush(key: string, sc: StoredCase, clear: 'now' | 'later' = 'now'): Promise<void> {
    if (sc.record.outbox.length === 0) return;
    inFlight.add(key);
    try {
      await Promise.all(
        sc.record.outbox
          .filter((e) => !published.has(e.id))
          .map(async (e) => {
            await send(e.type, e.body, e.to, e.id, sc.record);
            markPublished(e.id);
          }),
      );
    } finally {
      inFlight.delete(key);
    }
    if (clear === 'now') await clearOutbox(key, sc);
    else void clearOutbox(key, sc).catch((err) => logger.warn({ err, case: key }, 'outbox clear failed; the next write clears it'));
  }

  async function clearOutbox(key: string, sc: StoredCase): Promise<void> {
    let cur: StoredCase | undefined = sc;
    for (let i = 0; i < 3 && cur; i++) {
      const outbox = cur.record.outbox.filter((e) => !published.has(e.id));
      if (outbox.length === cur.record.outbox.length) return;
      const record = { ...cur.record, outbox };
      const rev = await store.update(key, record, cur.revision);
      if (rev !== undefined) {
        store.remember(key, { record, revision: rev });
        return;
      }
      stats.conflicts++;
      cur = await store.get(key);
    }
  }

  async function reject(m: WorkflowMessage, applied: Extract<Applied, { ok: false }>, key: string | undefined, c: CaseRecord | undefined): Promise<void> {
    stats.rejected[applied.refusal.code] = (stats.rejected[applied.refusal.code] ?? 0) + 1;
    logger.info({ msgId: m.id, type: m.type, sender: m.sender, case: key, code: applied.refusal.code }, `refused: ${applied.refusal.reason}`);
    const body = {
      causeMessageId: m.id,
      causeType: m.type,
      caseRef: key ?? '',
      code: applied.refusal.code,
      reason: applied.refusal.reason,
      currentState: c?.state ?? '',
      allowedNow: applied.allowedNow,
      refusedSender: m.sender,
    };
    const to = [m.sender, ...(m.recipient !== 'all' && m.recipient !== client.id ? [m.recipient] : [])];
    await Promise.all(to.map((a) => send('WorkflowRejection', body, a, derivedUuidv7(m.id, 'reject', m.sender, a), c)));
  }

  /**
   * The case a message names by key, or by the id of an earlier message of the case — only a message
   * of an agency that may own the reference (identity.ts): another sender's message with that id never
   * satisfies it.
   */
  async function resolve(def: WorkflowDefinition, route: { key?: string; messageId?: string }, m: WorkflowMessage): Promise<string | undefined> {
    if (route.key) return route.key;
    const id = route.messageId;
    if (!id) return undefined;
    const owners = referenceOwners(m);
    const direct = `${def.name}.${id}`;
    const opened = store.cached(direct) ?? (await store.get(direct));
    if (opened && owners.some((a) => appliedFrom(opened.record, a, id))) return direct;
    for (const a of owners) {
      const key = await store.alias(a, id);
      if (key) return key;
    }
    return undefined;
  }

  /**
   * A Retraction of a message the registry applied: find its case (the original may still be in
   * flight on its own consumer: wait for it briefly), then withdraw, undo or mark (retraction.ts).
   * A Retraction of anything else (a refused message, a type no workflow reads) changes nothing.
   */
  async function retractedCase(m: WorkflowMessage): Promise<string | undefined> {
    const facts = retractionFacts(m);
    const originalType = String(m.body.originalType ?? '');
    const def = defs.find((d) => d.opens.type === originalType || d.follows.some((f) => f.type === originalType));
    if (!def || !facts.originalId) return undefined;
    // The original is the Retraction's sender's own message; a case holding only another sender's
    // message with that id is found last, so a forged Retraction is refused there (ERR_RETRACT_NOT_SENDER).
    const holding = (cases: StoredCase[]) => {
      const ofDef = cases.filter((c) => c.record.workflow === def.name);
      return (ofDef.find((c) => appliedFrom(c.record, m.sender, facts.originalId)) ?? ofDef.find((c) => c.record.applied.includes(facts.originalId)))?.record.ref;
    };
    // Memory first; a case dropped from it is found by one scan of the bucket.
    let key = holding(store.cases()) ?? (store.complete ? undefined : holding(await store.allCases()));
    const waitUntil = Date.now() + waitMs;
    while (!key && Date.now() < waitUntil) {
      await sleep(50);
      key = holding(store.cases());
    }
    if (!key) logger.info({ msgId: facts.originalId, type: originalType, sender: m.sender }, 'retraction of a message no case applied: nothing to drop');
    return key;
  }

  /** Apply a Retraction to the case holding its original (found by {@link retractedCase}). */
  async function handleRetraction(m: WorkflowMessage, key: string | undefined): Promise<void> {
    const facts = retractionFacts(m);
    if (!key) return;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cur = attempt === 0 ? (store.cached(key) ?? (await store.get(key))) : await store.get(key);
      if (!cur) return;
      if (appliedFrom(cur.record, m.sender, m.id)) {
        stats.replayed++;
        await flush(key, cur);
        return;
      }
      const base = cur.record.outbox.some((e) => published.has(e.id)) ? { ...cur.record, outbox: cur.record.outbox.filter((e) => !published.has(e.id)) } : cur.record;
      const outcome = retractFromCase(base, facts, ctx());
      if (outcome.ok === 'none') {
        logger.info({ msgId: facts.originalId, case: key }, outcome.reason);
        return;
      }
      if (!outcome.ok) {
        await reject(m, outcome, key, cur.record);
        return;
      }
      const rev = await store.update(key, outcome.record, cur.revision);
      if (rev === undefined) {
        stats.conflicts++;
        continue;
      }
      const stored = { record: outcome.record, revision: rev };
      store.remember(key, stored);
      stats.retracted++;
      logger.info({ msgId: facts.originalId, case: key, from: outcome.step.from, to: outcome.step.to }, 'retraction applied');
      await flush(key, stored);
      return;
    }
    throw new LiaisonError('ERR_WORKFLOW_CONFLICT', `case ${key} kept changing while retracting ${facts.originalId}; will retry`);
  }

  /**
   * The key of the case a message belongs to, in its consumer's lane (partition.ts). A follow-up whose
   * case is not applied yet (its opening message travels on another consumer) waits for it briefly;
   * undefined when it belongs to no known case.
   */
  async function caseKeyOf(r: ReceivedMessage): Promise<string | undefined> {
    const m = toWorkflowMessage(r);
    if (m.type === 'Retraction') return await retractedCase(m);
    const route = routeMessage(defs, m);
    if (!route) return undefined;
    if (route.opens) return route.key;
    const waitUntil = Date.now() + waitMs;
    for (;;) {
      const key = await resolve(route.def, route, m);
      if (key && (store.cached(key) ?? (await store.get(key)))) return key;
      if (Date.now() >= waitUntil) return key;
      await sleep(50);
    }
  }

  /**
   * A case as a first attempt reads it: from memory; while memory holds every case (none dropped:
   * `store.complete`), a case it lacks is taken to be new, without a round trip (issue 16 item 3: two
   * reads per opening message). Should another replica have created it meanwhile, the create conflicts
   * and the next attempt reads the bucket.
   */
  async function firstRead(key: string): Promise<StoredCase | undefined> {
    return store.cached(key) ?? (store.complete ? undefined : await store.get(key));
  }

  /** Apply a message to its case (its turn on the case has come: nothing else of the case runs in this process). */
  async function applyInTurn(r: ReceivedMessage, caseKey: string | undefined): Promise<void> {
    await o.beforeApply?.(caseKey ?? '', r);
    const m = toWorkflowMessage(r);
    if (m.type === 'Retraction') return await handleRetraction(m, caseKey);
    const route = routeMessage(defs, m);
    if (!route) return;
    const def = route.def;
    const waitUntil = Date.now() + waitMs;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; ) {
      const first = attempt === 0;
      const key = route.opens ? await openingKey(def.name, route.key, m, async (k) => (first ? await firstRead(k) : (store.cached(k) ?? (await store.get(k))))?.record) : caseKey;
      // The mirror first (no round trip); after a conflict, the bucket itself.
      const cur = key ? (first ? await firstRead(key) : await store.get(key)) : undefined;
      attempt++;
      if (cur && appliedFrom(cur.record, m.sender, m.id)) {
        stats.replayed++;
        await flush(key!, cur);
        return;
      }
      // Notices already published (their removal may still be on its way) leave the case now.
      const base = cur && cur.record.outbox.some((e) => published.has(e.id)) ? { ...cur.record, outbox: cur.record.outbox.filter((e) => !published.has(e.id)) } : cur?.record;
      let applied: Applied;
      if (!cur && route.opens) applied = openCase(def, key!, m, ctx());
      else if (!cur) {
        if ((r.delivery?.deliveryCount ?? retries) < retries) {
          // Still unknown: let JetStream redeliver it later before refusing it.
          throw new LiaisonError('ERR_WORKFLOW_UNKNOWN_CASE', `no case for ${m.type} ${m.id} yet; retrying`);
        }
        applied = { ok: false, refusal: { code: 'ERR_WORKFLOW_UNKNOWN_CASE', reason: `${m.type} refers to no known ${def.name} case (${key ?? (route.opens ? route.key : route.messageId) ?? 'no reference'})` }, allowedNow: [] };
      } else if (route.opens && reopens(cur.record, m)) applied = reopenCase(def, base!, m, ctx());
      else if (route.opens && correctsOpening(cur.record, m) && Date.now() < waitUntil) {
        // The correction of the opening message, ahead of its Retraction: wait, then re-open the case with it.
        attempt--;
        await sleep(50);
        continue;
      } else if (route.opens && !def.transitions.some((t) => t.on === m.type)) {
        applied = { ok: false, refusal: { code: 'ERR_WORKFLOW_DUPLICATE_CASE', reason: `case ${key} exists already` }, allowedNow: allowedNow(def, cur.record, m.sender) };
      } else applied = applyMessage(def, base!, m, ctx());
      if (!applied.ok && cur && awaitsRetraction(cur.record, m) && Date.now() < waitUntil) {
        // Probably a correction that overtook its Retraction: wait for it (re-read the case) before refusing.
        attempt--;
        await sleep(50);
        continue;
      }
      if (!applied.ok) {
        await reject(m, applied, key, cur?.record);
        return;
      }
      // Later messages name this one by its id (a response to the second copy of a proposal): index it.
      if (route.opens && key !== `${def.name}.${m.id}`) await store.setAlias(m.sender, m.id, key!);
      const rev = cur ? await store.update(key!, applied.record, cur.revision) : await store.create(key!, applied.record);
      if (rev === undefined) {
        stats.conflicts++;
        continue;
      }
      const stored = { record: applied.record, revision: rev };
      store.remember(key!, stored);
      stats.applied++;
      if (!cur) stats.opened++;
      logger.debug({ msgId: m.id, type: m.type, case: key, to: applied.step.to }, 'applied');
      await flush(key!, stored);
      return;
    }
    throw new LiaisonError('ERR_WORKFLOW_CONFLICT', `case for ${m.type} ${m.id} kept changing; will retry`);
  }

  const partitions = new CasePartitions<ReceivedMessage>({
    lane: (r) => r.delivery?.consumer ?? r.type,
    caseKey: caseKeyOf,
    // A Retraction has a queue of its own per case: a correction waiting in the case's queue for its
    // Retraction must not hold it. A message of no known case runs alone (it is refused or redelivered).
    queueOf: (r, key) => (key === undefined ? `none ${r.header.sender} ${r.header.id}` : r.type === 'Retraction' ? `retraction ${key}` : key),
    apply: applyInTurn,
  });

  /** The consumers' handler: observe, then resolve the case and apply in its turn (partition.ts). */
  function handle(r: ReceivedMessage): Promise<void> {
    if (r.delivery?.deliveryCount === undefined || r.delivery.deliveryCount <= 1) o.observe?.(r);
    return partitions.handle(r);
  }

  let ticking: Promise<void> | undefined;
  /** Case → revision seen with a non-empty outbox at the previous tick. */
  const pendingSeen = new Map<string, number>();
  async function tickOnce(): Promise<void> {
    const now = clock.now();
    const cases = store.tickCases();
    // A case that left the tick's set (its notices went, no deadline can fall due) is forgotten here too.
    const refs = new Set(cases.map((sc) => sc.record.ref));
    for (const ref of pendingSeen.keys()) if (!refs.has(ref)) pendingSeen.delete(ref);
    for (const sc of cases) {
      const def = byName.get(sc.record.workflow);
      if (!def) continue;
      if (sc.record.outbox.length > 0) {
        // Notices left behind by a crashed process: unchanged since the previous tick and not being
        // flushed here. Their ids are stable, so a repeat is dropped by JetStream and the receivers.
        // A case with a message in process here is flushed by that message's handler.
        if (pendingSeen.get(sc.record.ref) === sc.revision && !inFlight.has(sc.record.ref) && partitions.queuedOn(sc.record.ref) === 0) {
          await flush(sc.record.ref, sc).catch((err) => logger.warn({ err, case: sc.record.ref }, 'outbox flush failed'));
        } else pendingSeen.set(sc.record.ref, sc.revision);
        continue;
      } else pendingSeen.delete(sc.record.ref);
      const next = dueDeadlines(def, sc.record, now, supervisorsOf(def), client.id, client.identity.key.kid);
      if (!next) continue;
      const rev = await store.update(sc.record.ref, next, sc.revision);
      if (rev === undefined) {
        stats.conflicts++;
        // Memory was behind: read the case again (the watch may not bring a newer revision of it).
        const fresh = await store.get(sc.record.ref);
        if (fresh) store.remember(sc.record.ref, fresh);
        continue;
      }
      stats.deadlineEffects++;
      const stored = { record: next, revision: rev };
      store.remember(sc.record.ref, stored);
      await flush(sc.record.ref, stored);
    }
  }
  const tick = (): Promise<void> => {
    ticking ??= tickOnce()
      .catch((err) => logger.warn({ err }, 'deadline tick failed'))
      .finally(() => (ticking = undefined));
    return ticking;
  };

  await store.watch(logger);
  // Idempotent (a redelivery of an applied message is skipped by its id in the case): a copy left in
  // doubt by a crash is applied (or skipped) on redelivery, not quarantined. Several messages at once:
  // the partitions keep each case's messages in order (partition.ts).
  await client.consume(handle, { types: [...workflowTypes(defs), 'Retraction'], redeliverInDoubt: true, concurrency: o.concurrency ?? WORKFLOW_CONCURRENCY });
  /** The cases a query may match: the one it names (memory, else the bucket), or every case. */
  async function queried(req: ReceivedMessage): Promise<CaseRecord[]> {
    const ref = typeof req.body.caseRef === 'string' ? req.body.caseRef : '';
    if (!ref) return (await store.allCases()).map((c) => c.record);
    const c = store.cached(ref) ?? (await store.get(ref));
    return c ? [c.record] : [];
  }
  await client.serve({ CaseQuery: async (req): Promise<Reply> => answerCaseQuery(await queried(req), req) }, { name: 'liaison-case-registry' });
  const timer = (o.tickMs ?? 250) > 0 ? setInterval(() => void tick(), o.tickMs ?? 250) : undefined;
  timer?.unref();
  logger.info({ bucket: bucket.bucket, definitions: defs.map((d) => d.name) }, 'case registry started');

  return {
    stats,
    tick,
    cases: () => store.cases().map((c) => c.record),
    memory: () => ({ cases: store.inMemory, evicted: store.stats.evicted, scans: store.stats.scans, ...store.watchStats }),
    async stop() {
      if (timer) clearInterval(timer);
      await ticking;
      store.stop();
    },
  };
}
