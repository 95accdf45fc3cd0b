import type { MsgHdrs } from '@nats-io/transport-node';
import { isLiaisonError, LiaisonError } from '../errors.ts';
import type { AsyncPublisher, PubAck } from './publisher.ts';

/**
 * What the two store-and-forward paths share — the leaf's forwarder (services/edge/forwarder.ts: outbox → exchange)
 * and the bridge (services/bridge/forwarder.ts: one federation's export consumers → the other's streams): a stored
 * copy published again, unchanged, with its outcome as a value, so a window of them settles in order.
 */

/** The outcome of republishing one copy: the broker's PubAck (stored or duplicate), or the typed refusal or failure. */
export type RepublishOutcome = { ok: PubAck } | { err: LiaisonError };

/** Publish one stored copy again (same data and headers) and resolve with its outcome; never rejects. */
export function republish(publisher: AsyncPublisher, subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<RepublishOutcome> {
  return publisher.publish(subject, data, headers, timeoutMs).then(
    (ok) => ({ ok }),
    (err: unknown) => ({ err: isLiaisonError(err) ? err : new LiaisonError('ERR_PUBLISH', String(err)) }),
  );
}

/** True when the broker refused the copy for good (Permissions Violation): set it aside, never retry it. */
export function refusedForGood(o: RepublishOutcome): boolean {
  return 'err' in o && o.err.code === 'ERR_PERMISSION_DENIED';
}

/** Resolve after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
