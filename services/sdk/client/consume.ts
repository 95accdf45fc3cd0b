import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, isLiaisonError, LiaisonError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { openMessageWith, type OpenContext, type ReceivedMessage } from '../envelope/open.ts';
import type { SignatureCheck } from '../envelope/jws.ts';
import { quarantineSubject } from '../subjects.ts';
import { quarantineHeaders } from './quarantine.ts';
import { dispatchClaimed } from './at-most-once.ts';
import { deadLetter, deadLetterReason, isLastAttempt, isPastLastAttempt } from './dead-letter.ts';
import { freshnessBoundMs, replayOf } from './freshness.ts';
import type { Claim, HandledRecord } from './handled.ts';
import { InFlight } from './in-flight.ts';
import { giveBack, PULL_EXPIRES_MS, workingEvery } from './pull.ts';
import { pullLoop } from './pull-loop.ts';
import { handBackOpening, newLane, openingOf, type Lane } from './lane.ts';

export { PULL_EXPIRES_MS };

/** A message the receiver refused, with the reason. */
export interface Rejection {
  code: ErrorCode;
  reason: string;
  subject: string;
  /** The claimed sender, when the subject names one (unverified). */
  claimedSender?: string;
}

/** Counters of one receiving agency. */
export interface ReceiveStats {
  received: number;
  duplicates: number;
  /** Own broadcasts delivered back to the sender, skipped. */
  own: number;
  handlerErrors: number;
  rejected: Partial<Record<ErrorCode, number>>;
  /** Copies in this process now (pulled, not yet settled at the handler), over all consumer loops. */
  inFlight?: number;
  /** The most copies ever in this process at once. */
  inFlightHighWater?: number;
}

/** A message handler; a throw means "not processed": the copy is redelivered later, up to the dead-letter limit (dead-letter.ts). */
export type Handler = (msg: ReceivedMessage) => void | Promise<void>;

/**
 * The identity of a message: its sender and its id (`<sender> <id>`). Ids come from the sender, so
 * an id alone names nothing: another agency may send a message with the same id.
 */
export function messageKey(h: { sender: string; id: string }): string {
  return `${h.sender} ${h.id}`;
}

/** Bounded memory of processed messages, by {@link messageKey} (receivers process a given message once). */
export class SeenIds {
  readonly #max: number;
  readonly #ids = new Set<string>();

  constructor(max = 100_000) {
    this.#max = max;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    if (this.#ids.size >= this.#max) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    this.#ids.add(id);
  }
}

/** What the receive loop needs. `context()` is read per message, so directory updates apply at once. */
export interface ReceiveLoopOptions {
  nc: NatsConnection;
  self: string;
  context: () => OpenContext;
  handler: Handler;
  onReject?: (r: Rejection) => void;
  seen: SeenIds;
  stats: ReceiveStats;
  logger: Logger;
  /** The agency's durable record of handled messages: at most once at the handler across restarts (absent: in-memory `seen` only). */
  handled?: HandledRecord;
  /** The freshness rule's tolerance (default `REPLAY_TOLERANCE_MS`, freshness.ts); a sender's offline allowance in the policy lengthens it (`freshnessBoundMs`). */
  replayToleranceMs?: number;
  /** The handler is idempotent: an in-doubt copy is handed to it again instead of quarantined (see ConsumeOptions). */
  redeliverInDoubt?: boolean;
  /** The consumer's `max_deliver` (set by {@link runConsumer}): sets the dead-letter limit (dead-letter.ts); absent: none. */
  maxDeliver?: number;
  /** Aborted when the loop stops (set by the loop): a copy waiting for an unreachable handled record gives up then. */
  signal?: AbortSignal;
  /** How often a copy in progress is reported working (set by the loop from the consumer's ack wait; default `WORKING_EVERY_MS` of at-most-once.ts). */
  workingEveryMs?: number;
  /** The most copies one consumer loop holds in process (default {@link MAX_IN_FLIGHT}; checked by `checkMaxInFlight`, in-flight.ts). */
  maxInFlight?: number;
  /** The agency's Nats-Msg-Id tag key (msg-id-tag.ts): its quarantine records' de-duplication ids carry its tag. */
  msgIdKey?: Uint8Array;
  /**
   * Check signatures here instead of on the calling thread: a crypto pool's worker threads (LiaisonClient
   * `cryptoWorkers`, services/sdk/crypto/pool.ts). The loops then verify up to {@link VERIFY_AHEAD} copies ahead of
   * the window, so the event loop hands earlier copies to the handler meanwhile; order at the handler is unchanged.
   */
  verify?: SignatureCheck;
}

/** The parts of a JetStream message the receive path uses. */
export type Delivery = Pick<JsMsg, 'subject' | 'data' | 'headers' | 'ack' | 'term' | 'nak' | 'working'> & {
  info?: Pick<JsMsg['info'], 'stream' | 'consumer' | 'streamSequence'> & {
    deliveryCount?: number;
    /** When JetStream stored the copy (ns since the epoch). */
    timestampNanos?: number;
    /** The consumer's delivery sequence (a gap: deliveries lost in transit; order-barrier.ts). */
    deliverySequence?: number;
  };
};

/** A verified, fresh copy waiting for its turn at the handler (its durable claim may be in flight already). */
export interface Prepared {
  m: Delivery;
  msg: ReceivedMessage;
  claim?: Promise<Claim>;
}

/**
 * Verify, dispatch and acknowledge one delivered copy. Rejections are counted, logged, published
 * to the agency's quarantine subject and terminated (never redelivered); handler failures are
 * nak'ed for redelivery. Never throws. Synchronous unless the handler returns a promise, the
 * durable record is in use or signatures are checked on a crypto pool (`verify`), so a batch of
 * copies from one socket read is verified and acknowledged in one tick (one write for the acks).
 */
export function handleDelivery(o: ReceiveLoopOptions, m: Delivery): void | Promise<void> {
  const p = prepareDelivery(o, m);
  if (p instanceof Promise) return p.then((q) => q && dispatchDelivery(o, q));
  return p && dispatchDelivery(o, p);
}

/**
 * The first half of {@link handleDelivery}, run as a copy nears the handler: skip own broadcasts, verify,
 * and apply the freshness rule (a copy stored long after it was signed is a replay: ERR_REPLAY; how long, the
 * sender's bound under the policy: `freshnessBoundMs`).
 * Undefined when the copy is settled already; a promise when its signature is checked on a crypto pool
 * (`verify`: it never rejects).
 */
export function prepareDelivery(o: ReceiveLoopOptions, m: Delivery): Prepared | undefined | Promise<Prepared | undefined> {
  if (m.subject.split('.')[5] === o.self) {
    // Our own broadcast, delivered back by our broadcast consumer (the broker guarantees the sender token).
    o.stats.own++;
    m.ack();
    return;
  }
  let opened: ReceivedMessage | Promise<ReceivedMessage>;
  const ctx = o.context();
  try {
    opened = openMessageWith(ctx, { subject: m.subject, data: m.data, header: (n) => m.headers?.get(n) || undefined }, o.verify);
  } catch (err) {
    return refuse(o, m, err);
  }
  if (!(opened instanceof Promise)) return admit(opened);
  return opened.then(admit, (err: unknown) => refuse(o, m, err)).catch((err: unknown) => {
    o.logger.error({ err, subject: m.subject }, 'preparing a copy failed; it will be redelivered');
    m.nak(1_000);
    return undefined;
  });

  /** After the signature and the checks after it: the delivery facts and the freshness rule. */
  function admit(msg: ReceivedMessage): Prepared | undefined {
    if (m.info) msg.delivery = { stream: m.info.stream, consumer: m.info.consumer, streamSeq: m.info.streamSequence, deliveryCount: m.info.deliveryCount ?? 1 };
    const replay = replayOf(msg, m.info?.timestampNanos, freshnessBoundMs(ctx.policy, msg.header.sender, o.replayToleranceMs, ctx.bridges));
    if (replay) {
      reject(o, m.subject, m.data, replay);
      m.term();
      return;
    }
    return { m, msg };
  }
}

/**
 * A bridged copy signed with a key not (yet) in the peer federation's directory as this client holds it (an agency
 * enrolled over there a moment ago; the client asks its exchange again at once) comes back after
 * {@link PEER_KEY_RETRY_MS}, up to {@link PEER_KEY_ATTEMPTS} deliveries in all (past the client's 5 s refresh), then is
 * refused like any copy with an unknown key.
 */
export const PEER_KEY_ATTEMPTS = 5;
/** How long a bridged copy with a not-yet-known key waits before it is delivered again. */
export const PEER_KEY_RETRY_MS = 2_000;

/**
 * A copy the receiving pipeline refused: counted, quarantined and terminated (never redelivered). A copy whose
 * signature could not be checked at all (its crypto worker died: ERR_CRYPTO_WORKER) is no fault of the
 * copy: it is nak'ed and comes back.
 */
function refuse(o: ReceiveLoopOptions, m: Delivery, err: unknown): undefined {
  if (isLiaisonError(err, 'ERR_KEY_UNKNOWN') && err.details['pending'] === true && (m.info?.deliveryCount ?? 1) < PEER_KEY_ATTEMPTS) {
    o.logger.info({ subject: m.subject, peer: err.details['peer'] }, 'a bridged copy signed with a key this client does not know yet; redelivered once the peer directory caught up');
    m.nak(PEER_KEY_RETRY_MS);
    return undefined;
  }
  if (isLiaisonError(err, 'ERR_CRYPTO_WORKER')) {
    o.logger.warn({ err, subject: m.subject }, 'the signature could not be checked; the copy will be redelivered');
    m.nak(1_000);
    return undefined;
  }
  reject(o, m.subject, m.data, asLiaisonError(err, 'ERR_DECODE'));
  // Plain +TERM: nats-server 2.9 does not understand a reason after it (the copy would be redelivered).
  m.term();
  return undefined;
}

/**
 * Copies claimed ahead of the handler, so the claims' round trips overlap. Few: a crash leaves every
 * claimed, unfinished copy in doubt (quarantined, never handled), handled or not.
 */
export const CLAIM_AHEAD = 16;

/** Start the durable claim of a prepared copy (once; nothing without a durable record). */
export function claimAhead(o: ReceiveLoopOptions, p: Prepared): void {
  if (!o.handled || p.claim) return;
  const d = p.msg.delivery;
  p.claim = o.handled.claim(p.msg.header.sender, p.msg.header.id, d && { consumer: d.consumer, streamSeq: d.streamSeq });
}

/** The second half of {@link handleDelivery}, in delivery order: the handler at most once, then the ack. */
export function dispatchDelivery(o: ReceiveLoopOptions, p: Prepared): void | Promise<void> {
  const { m, msg } = p;
  claimAhead(o, p);
  if (p.claim) return p.claim.then((c) => dispatchClaimed(o, m, msg, c));
  if (o.seen.has(messageKey(msg.header))) {
    o.stats.duplicates++;
    m.ack();
    return;
  }
  if (isPastLastAttempt(o, m)) return deadLetter(o, m, msg, deadLetterReason(m));
  const failed = (err: unknown): void | Promise<void> => {
    o.stats.handlerErrors++;
    if (isLastAttempt(o, m)) return deadLetter(o, m, msg, deadLetterReason(m, err));
    o.logger.warn({ err, msgId: msg.header.id, type: msg.type }, 'handler failed; message will be redelivered');
    m.nak(1_000);
  };
  const done = () => {
    o.seen.add(messageKey(msg.header));
    o.stats.received++;
    m.ack();
  };
  let result: void | Promise<void>;
  try {
    result = o.handler(msg);
  } catch (err) {
    return failed(err);
  }
  if (result instanceof Promise) return result.then(done, failed);
  done();
}

function reject(o: ReceiveLoopOptions, subject: string, data: Uint8Array, e: LiaisonError): void {
  o.stats.rejected[e.code] = (o.stats.rejected[e.code] ?? 0) + 1;
  const claimedSender = subject.split('.')[5];
  o.logger.warn({ code: e.code, subject, claimedSender }, `rejected: ${e.message}`);
  try {
    o.nc.publish(quarantineSubject(o.self), data, { headers: quarantineHeaders(e, subject) });
  } catch (err) {
    o.logger.warn({ err }, 'could not publish to quarantine');
  }
  try {
    o.onReject?.({ code: e.code, reason: e.message, subject, claimedSender });
  } catch (err) {
    o.logger.warn({ err }, 'onReject callback failed');
  }
}

/** The most copies one consumer loop holds in process (pulled, not yet settled at the handler) unless its consumer sets `maxInFlight`; the rest wait in JetStream. */
export const MAX_IN_FLIGHT = 64;

/**
 * Pull from one durable consumer until `signal` aborts. Copies are handled in delivery order; an
 * asynchronous handler or claim holds back the copies behind it until it settles. Only a window of
 * {@link CLAIM_AHEAD} copies ahead of the handler is verified and claimed at a time: verifying a
 * whole pulled batch at once would hold the event loop, and so every claim's round trip, for as long.
 *
 * Back-pressure: the loop pulls (fetch, expiring after {@link PULL_EXPIRES_MS}) only into free slots of
 * `maxInFlight` (default {@link MAX_IN_FLIGHT}; in-flight.ts), refilling once half are free, so what waits stays in JetStream,
 * not in this process; held copies are kept alive with `working()` at a third of the consumer's ack
 * wait. The consumer's `max_deliver` sets the dead-letter limit (dead-letter.ts).
 *
 * Stream order across a crash or a reconnect: copies delivered and never acknowledged (a previous instance took
 * them; they were lost in transit when the connection died) come back only after their ack wait, while later
 * copies are delivered at once; the loop's barrier (order-barrier.ts) holds the later ones until they did.
 */
export async function runConsumer(o: ReceiveLoopOptions, consumer: Consumer, signal: AbortSignal): Promise<void> {
  const info = await consumer.info();
  const { config } = info;
  const lo: ReceiveLoopOptions = { ...o, maxDeliver: config.max_deliver, signal, workingEveryMs: workingEvery(config.ack_wait) };
  const inFlight = new InFlight({ limit: o.maxInFlight ?? MAX_IN_FLIGHT, stats: o.stats, logger: o.logger, workingEveryMs: workingEvery(config.ack_wait) });
  const pump = orderedPump(lo, inFlight, signal);
  await pullLoop(o, consumer, info, inFlight, signal, pump);
}

/**
 * Copies whose signatures a loop checks on a crypto pool ahead of its window (ReceiveLoopOptions `verify`),
 * besides the {@link CLAIM_AHEAD} in it: worker threads check them while the event loop hands earlier copies to
 * the handler. On the calling thread nothing is verified ahead of the window (it would hold the event loop).
 */
export const VERIFY_AHEAD = 48;

/**
 * Move a lane's copies along (lane.ts): start preparing pulled copies — on the calling thread only as the
 * window has room, on a crypto pool up to {@link VERIFY_AHEAD} more — and move prepared ones, in delivery order,
 * into the window ahead of the handler, up to {@link CLAIM_AHEAD}, each with its claim taken ahead; a copy refused
 * on the way (quarantined, a duplicate) frees its slot at once. Returns a promise to wait for when the window is
 * empty and the next copy's signature is still being checked.
 */
export function fillWindow(o: ReceiveLoopOptions, inFlight: InFlight, lane: Lane): Promise<void> | undefined {
  const ahead = CLAIM_AHEAD + (o.verify ? VERIFY_AHEAD : 0);
  for (;;) {
    while (lane.window.length < CLAIM_AHEAD && lane.opening[0]?.done) {
      const { m, p } = lane.opening.shift()!;
      if (!p) {
        inFlight.settle(m);
        continue;
      }
      claimAhead(o, p);
      lane.window.push(p);
    }
    if (lane.arrived.length === 0 || lane.window.length + lane.opening.length >= ahead) break;
    const m = lane.arrived.shift()!;
    lane.opening.push(openingOf(m, prepareDelivery(o, m)));
  }
  const head = lane.opening[0];
  return lane.window.length === 0 && head && !head.done ? head.ready : undefined;
}

/**
 * The in-order pipeline of one loop: `push` a pulled copy; copies are prepared (verified, claimed ahead)
 * in a window and dispatched one after another; each frees its slot once settled at the handler.
 */
function orderedPump(o: ReceiveLoopOptions, inFlight: InFlight, signal: AbortSignal): (m: Delivery) => void {
  const lane = newLane();
  let busy = false;
  /** Stopping: what was pulled but not dispatched goes back to JetStream now (claims freed), not after the ack wait. */
  const handBack = (): void => {
    for (const p of lane.window.splice(0)) void giveBack(o, p).finally(() => inFlight.settle(p.m));
    handBackOpening(o, inFlight, lane.opening.splice(0));
    for (const m of lane.arrived.splice(0)) {
      m.nak();
      inFlight.settle(m);
    }
  };
  const pump = (): void => {
    if (signal.aborted) return handBack();
    for (;;) {
      const verifying = fillWindow(o, inFlight, lane);
      if (lane.window.length === 0) {
        // The next copy's signature is being checked on the crypto pool: go on once it is.
        if (verifying) {
          busy = true;
          void verifying.then(() => {
            busy = false;
            pump();
          });
        }
        return;
      }
      if (signal.aborted) return handBack();
      const p = lane.window.shift()!;
      const pending = dispatchDelivery(o, p);
      if (pending) {
        busy = true;
        const next = () => {
          inFlight.settle(p.m);
          busy = false;
          pump();
        };
        void pending.then(next, next);
        return;
      }
      inFlight.settle(p.m);
    }
  };
  signal.addEventListener('abort', () => void (busy ? undefined : handBack()), { once: true });
  return (m) => {
    if (signal.aborted) {
      m.nak();
      inFlight.settle(m);
      return;
    }
    lane.arrived.push(m);
    if (!busy) pump();
    // Behind a busy handler, copies' signatures are checked on the crypto pool meanwhile.
    else if (o.verify) void fillWindow(o, inFlight, lane);
  };
}
