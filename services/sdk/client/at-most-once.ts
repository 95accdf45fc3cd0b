import type { ReceivedMessage } from '../envelope/open.ts';
import { LiaisonError } from '../errors.ts';
import type { Delivery, ReceiveLoopOptions } from './consume.ts';
import { deadLetter, deadLetterReason, isLastAttempt, isPastLastAttempt } from './dead-letter.ts';
import type { Claim } from './handled.ts';
import { quarantineDurably } from './quarantine.ts';

/** While an asynchronous handler runs, tell JetStream every so often that the copy is in progress (under every ack wait). */
export const WORKING_EVERY_MS = 2_000;

/**
 * Dispatch one verified copy by what the durable record decided (handled.ts): claimed → handler,
 * then `done`, then ack; already done (or already quarantined) → ack without handling; in doubt →
 * quarantine; record unreachable → the claim is tried again at the copy's place, for at most
 * {@link CLAIM_RETRY_MS} (then nak: redelivered later, never handled unrecorded). Never throws.
 * Resolves when the handler has settled; the `done` write and the ack follow without holding the
 * next copy back.
 */
export function dispatchClaimed(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, c: Claim): void | Promise<void> {
  switch (c.outcome) {
    case 'done':
    case 'quarantined':
      o.stats.duplicates++;
      m.ack();
      return;
    case 'unavailable':
      return claimAgain(o, m, msg, c);
    case 'in-doubt':
      return o.redeliverInDoubt ? handleAgain(o, m, msg, c) : quarantineInDoubt(o, m, msg, c);
    case 'claimed':
      return runHandler(o, m, msg, c);
  }
}

function runHandler(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, c: Extract<Claim, { outcome: 'claimed' }>): void | Promise<void> {
  const every = o.workingEveryMs ?? WORKING_EVERY_MS;
  const ok = () => {
    o.stats.received++;
    // Handled: the copy stays in progress until its `done` is stored and it is acknowledged (a slow record write under
    // load would otherwise outlast the ack wait, and the copy come back as a duplicate).
    const keep = setInterval(() => m.working(), every);
    c.finish()
      .then(
        () => m.ack(),
        (err: unknown) => o.logger.warn({ err, msgId: msg.header.id }, 'handled but not marked done: not acknowledged; its redelivery is done if this process still runs (its floor written again), else in doubt'),
      )
      .finally(() => clearInterval(keep));
  };
  const failed = (err: unknown): void | Promise<void> => {
    o.stats.handlerErrors++;
    // Released first, so a replay the agency requests once the handler is fixed reaches it again.
    if (isLastAttempt(o, m)) return releaseThen(c, () => deadLetter(o, m, msg, deadLetterReason(m, err)));
    o.logger.warn({ err, msgId: msg.header.id, type: msg.type }, 'handler failed; message will be redelivered');
    void releaseThen(c, () => m.nak(1_000));
  };
  if (isPastLastAttempt(o, m)) return releaseThen(c, () => deadLetter(o, m, msg, deadLetterReason(m)));
  let result: void | Promise<void>;
  try {
    result = o.handler(msg);
  } catch (err) {
    return failed(err);
  }
  if (!(result instanceof Promise)) return ok();
  const beat = setInterval(() => m.working(), every);
  return result.then(ok, failed).finally(() => clearInterval(beat));
}

/** How long a copy waits at its place for an unreachable handled record before it is handed back (nak). */
export const CLAIM_RETRY_MS = 30_000;
/** Pause between two claims of a copy while the handled record is unreachable. */
const CLAIM_RETRY_EVERY_MS = 250;

/**
 * The handled record did not answer a claim (a hub restarting, its bucket electing a leader). Handing the copy back
 * with a delay would let the copies behind it overtake it — the stream's order lost at the handler. So it waits here,
 * kept alive, and claims again until the record answers, the loop stops, or {@link CLAIM_RETRY_MS} passed; only then
 * is it nak'ed (redelivered later, never handled unrecorded).
 */
async function claimAgain(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, first: Extract<Claim, { outcome: 'unavailable' }>): Promise<void> {
  const { sender, id } = msg.header;
  o.logger.warn({ code: first.error.code, err: first.error.message, msgId: id, sender }, 'handled record unavailable; the copy waits at its place and is claimed again');
  const until = Date.now() + CLAIM_RETRY_MS;
  let c: Claim = first;
  let beat = Date.now();
  while (c.outcome === 'unavailable' && Date.now() < until && !o.signal?.aborted) {
    await new Promise((r) => setTimeout(r, CLAIM_RETRY_EVERY_MS));
    if (Date.now() - beat >= (o.workingEveryMs ?? WORKING_EVERY_MS)) {
      m.working();
      beat = Date.now();
    }
    const d = msg.delivery;
    c = await o.handled!.claim(sender, id, d && { consumer: d.consumer, streamSeq: d.streamSeq });
  }
  if (c.outcome === 'unavailable') {
    o.logger.warn({ code: c.error.code, err: c.error.message, msgId: id, sender }, 'handled record still unavailable; the copy is redelivered later');
    m.nak(1_000);
    return;
  }
  return dispatchClaimed(o, m, msg, c);
}

/** Release a claim (the handler did not complete), then `next` whether or not the release was written. */
function releaseThen(c: Extract<Claim, { outcome: 'claimed' }>, next: () => void | Promise<void>): Promise<void> {
  return c.release().then(next, next);
}

/** An idempotent handler (`redeliverInDoubt`) gets an in-doubt copy again: claim it anew, then as usual. */
function handleAgain(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, c: Extract<Claim, { outcome: 'in-doubt' }>): Promise<void> {
  o.logger.info({ msgId: msg.header.id, sender: msg.header.sender }, 'in doubt: handed to the idempotent handler again');
  return c.reclaim().then(
    (again) => dispatchClaimed(o, m, msg, again),
    (err: unknown) => {
      o.logger.warn({ err, msgId: msg.header.id }, 'could not claim an in-doubt copy again; it is redelivered later');
      m.nak(1_000);
    },
  );
}

/**
 * A copy whose earlier delivery was claimed but never marked done: the handler may have run. It goes
 * to the agency's quarantine durably (JetStream-acknowledged, de-duplicated by its key) with its
 * sender, id and delivery count, so an operator sees it and can replay it; then it is terminated.
 */
async function quarantineInDoubt(o: ReceiveLoopOptions, m: Delivery, msg: ReceivedMessage, c: Extract<Claim, { outcome: 'in-doubt' }>): Promise<void> {
  const { sender, id } = msg.header;
  const deliveryCount = m.info?.deliveryCount ?? 1;
  const e = new LiaisonError(
    'ERR_IN_DOUBT',
    `message ${id} of ${sender} was claimed for the handler at ${new Date(c.claimedAt).toISOString()} but never marked done (the receiver stopped between handler and ack?): quarantined, not handled again`,
    { sender, id, deliveryCount },
  );
  try {
    await quarantineDurably(o, m, e, { kind: 'in-doubt', sender, id, deliveryCount });
    await c.quarantined();
  } catch (err) {
    o.logger.warn({ err, msgId: id, sender }, 'could not quarantine an in-doubt message; it is redelivered later');
    m.nak(1_000);
    return;
  }
  o.stats.rejected[e.code] = (o.stats.rejected[e.code] ?? 0) + 1;
  o.logger.warn({ code: e.code, subject: m.subject, sender, msgId: id, deliveryCount }, `quarantined: ${e.message}`);
  m.term();
  try {
    o.onReject?.({ code: e.code, reason: e.message, subject: m.subject, claimedSender: sender });
  } catch (err) {
    o.logger.warn({ err }, 'onReject callback failed');
  }
}
