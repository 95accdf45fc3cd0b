import { BUSY_OUTCOME, type Reply } from '../sdk/client/rpc.ts';
import type { ArrivingRequest, RequestAdmission, StaleRefusal } from '../sdk/client/serve-admission.ts';
import type { Clock } from '../sdk/clock.ts';

/** Default bound on the checks a registry has in process at once (issue 16). */
export const DEFAULT_MAX_CHECKS_IN_PROCESS = 256;
/**
 * Default bound on how long a check may have waited (since its signed `created_at`) before the registry works on it:
 * inside the requester's default 5 s timeout, so a late check is refused while its caller still listens, with room
 * for a loaded machine and a second of clock skew between the requester and the registry.
 */
export const DEFAULT_MAX_CHECK_WAIT_MS = 4_000;
/**
 * A check that waited this much longer than `maxWaitMs` is past the SDK's default 5 s request timeout: its checker has
 * most likely given up, so it is refused without a signature (the unsigned ERR_BUSY refusal) — a flood then cannot
 * make the registry sign a busy result for every check it is too late for, and it catches up (issue 16).
 */
export const STALE_AFTER_WAIT_MS = 5_000;

/** How many checks the registry takes on (config of {@link checkAdmission}). */
export interface AdmissionConfig {
  /** At most this many checks in process at once; more are refused busy (default {@link DEFAULT_MAX_CHECKS_IN_PROCESS}). */
  maxInProcess?: number;
  /**
   * A check whose signed `created_at` lies more than this many ms in the past when the registry reaches it is
   * refused busy (default {@link DEFAULT_MAX_CHECK_WAIT_MS}). The requester's clock skew counts against it.
   */
  maxWaitMs?: number;
}

/** What admission has refused so far, by reason. */
export interface AdmissionCounters {
  /** Refused because `maxInProcess` checks were in process. */
  busyFull: number;
  /** Refused because they had waited longer than `maxWaitMs`. */
  busyLate: number;
}

/** Why a check is refused now, or undefined when it is admitted. */
function refusalOf(req: ArrivingRequest, inProcess: number, max: number, maxWaitMs: number, now: number): string | undefined {
  if (inProcess >= max) return `the registry has ${inProcess} checks in process (at most ${max}): retry shortly`;
  const waited = now - req.header.createdAt.getTime();
  if (waited > maxWaitMs) return `the check waited ${waited} ms before the registry reached it (at most ${maxWaitMs}): retry shortly`;
  return undefined;
}

/**
 * The signed busy answer of a check: the request's own result type (the requester's policy receives it), outcome
 * {@link BUSY_OUTCOME}, sealed and bound to the request by its hash like every reply.
 */
function busyReply(req: ArrivingRequest, result: CheckResultShape, reason: string, now: number): Reply {
  return { type: result.type, body: { requestId: req.header.id, outcome: BUSY_OUTCOME, checkedAt: new Date(now).toISOString(), [result.reasonField]: reason } };
}

/** A check's result type and the text field of it that carries the busy reason. */
export interface CheckResultShape {
  type: string;
  reasonField: string;
}

/** DocumentCheckResult: the reason goes in `instructions`. */
export const DOCUMENT_CHECK_RESULT: CheckResultShape = { type: 'DocumentCheckResult', reasonField: 'instructions' };
/** PersonCheckResult: the reason goes in `requestedAction`. */
export const PERSON_CHECK_RESULT: CheckResultShape = { type: 'PersonCheckResult', reasonField: 'requestedAction' };

/**
 * Bounded admission of checks, on arrival and before verification (the SDK's `serve` asks it first): at most
 * `maxInProcess` checks in process from the moment they arrive until they are answered, none taken on after waiting
 * more than `maxWaitMs` since its `created_at`. A check beyond either bound is answered at once with a signed busy
 * result of its type's {@link CheckResultShape} (by `results[type]`), never left for the requester to time out, and
 * costs the registry no verification and no lookup: only the signing of that result, sent to the requester the broker
 * authenticated, in its own account — a requester can make the registry sign one busy result per check it sends.
 * The `created_at` read here is the request's claim, unverified: a requester can only make its own checks look late.
 */
export function checkAdmission(results: Readonly<Record<string, CheckResultShape>>, o: { config?: AdmissionConfig; clock: Clock; counters: AdmissionCounters }): RequestAdmission {
  const max = Math.max(1, o.config?.maxInProcess ?? DEFAULT_MAX_CHECKS_IN_PROCESS);
  const maxWaitMs = Math.max(0, o.config?.maxWaitMs ?? DEFAULT_MAX_CHECK_WAIT_MS);
  let inProcess = 0;
  return {
    admit(req): Reply | StaleRefusal | undefined {
      const result = results[req.type];
      const now = o.clock.now();
      const waited = now - req.header.createdAt.getTime();
      if (result && waited > maxWaitMs + STALE_AFTER_WAIT_MS) {
        o.counters.busyLate++;
        return { stale: `the check waited ${waited} ms before the registry reached it (at most ${maxWaitMs}); unsigned, its checker has most likely given up: retry` };
      }
      const refused = result && refusalOf(req, inProcess, max, maxWaitMs, now);
      if (!result || !refused) {
        inProcess++;
        return undefined;
      }
      if (inProcess >= max) o.counters.busyFull++;
      else o.counters.busyLate++;
      return busyReply(req, result, refused, now);
    },
    release() {
      inProcess--;
    },
  };
}
