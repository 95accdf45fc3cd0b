import { MAX_CLOCK_SKEW_MS, type ReceivedMessage } from '../envelope/open.ts';
import { LiaisonError } from '../errors.ts';
import { DUPLICATE_WINDOW_MS } from '../policy/compile.ts';
import { offlineAllowanceMs } from '../policy/edge.ts';
import type { Policy } from '../policy/model.ts';
import { originOf, type CrossContext } from '../envelope/cross.ts';

/**
 * How long after its signed `created_at` JetStream may store a copy: the duplicate window (a sender's
 * retried publish within it is de-duplicated by Nats-Msg-Id) plus the clock skew allowed between the
 * sender's clock and the server's. A copy stored later was re-published from an old envelope: a replay.
 */
export const REPLAY_TOLERANCE_MS = DUPLICATE_WINDOW_MS + MAX_CLOCK_SKEW_MS;

/**
 * How late after its signed `created_at` a copy of `sender` may be stored: `toleranceMs` (default
 * {@link REPLAY_TOLERANCE_MS}), or — for a sender the policy gives an offline allowance (`edge.<agency>.offline`,
 * edge.ts: its leaf keeps its sends through an outage and forwards them when the link is back) — that allowance plus
 * the clock skew, when longer. The duplicate window does not grow with it (JetStream's is the streams' 2 min): a
 * re-published envelope within the allowance is stored again, and what keeps it from the handler twice is the
 * agency's handled record, kept longer than any allowance (`handledMaxAgeMs`, compile.ts).
 * A sender of another federation (`<peer>:<agency>`, a bridged copy) gets the `outage` allowance of the agreement
 * with its federation instead (both roots signed it): what a bridge that was down republishes late.
 */
export function freshnessBoundMs(policy: Pick<Policy, 'edge'>, sender: string, toleranceMs: number = REPLAY_TOLERANCE_MS, bridges?: Pick<CrossContext, 'federation' | 'sides'>): number {
  const peer = bridges ? originOf(sender, bridges.federation) : undefined;
  const allowance = bridges && peer !== bridges.federation ? (bridges.sides.get(peer!)?.outageMs ?? 0) : offlineAllowanceMs(policy, sender);
  return allowance > 0 ? Math.max(toleranceMs, allowance + MAX_CLOCK_SKEW_MS) : toleranceMs;
}

/**
 * The freshness rule: ERR_REPLAY when JetStream stored this copy (`storedNanos`, the stream's
 * timestamp in the delivery) more than `toleranceMs` after the envelope was signed, else undefined. Receivers pass
 * the sender's bound ({@link freshnessBoundMs}).
 * A backlog days old passes: what counts is when the copy was stored, not when it is read.
 */
export function replayOf(msg: ReceivedMessage, storedNanos: number | undefined, toleranceMs: number = REPLAY_TOLERANCE_MS): LiaisonError | undefined {
  if (storedNanos === undefined) return undefined;
  const storedMs = Math.floor(storedNanos / 1e6);
  const lateMs = storedMs - msg.header.createdAt.getTime();
  if (lateMs <= toleranceMs) return undefined;
  const { sender, id } = msg.header;
  return new LiaisonError(
    'ERR_REPLAY',
    `message ${id} of ${sender} was signed at ${msg.header.createdAt.toISOString()} but stored at ${new Date(storedMs).toISOString()}, ${Math.round(lateMs / 1000)} s later (tolerance ${Math.round(toleranceMs / 1000)} s): a re-published old envelope`,
    { sender, id, lateMs, toleranceMs },
  );
}
