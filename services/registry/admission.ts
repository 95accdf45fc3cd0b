import type { BusyRefusal, RequestAdmission } from '../sdk/client/serve-admission.ts';
import type { Clock } from '../sdk/clock.ts';

/** Default bound on the checks a registry has in process at once (issue 16). */
export const DEFAULT_MAX_CHECKS_IN_PROCESS = 256;
/**
 * Default bound on how long a check may have waited (since its signed `created_at`) before the registry works on it:
 * inside the requester's default 5 s timeout, so a late check is refused while its caller still listens, with room
 * for a loaded machine and a second of clock skew between the requester and the registry.
 */
export const DEFAULT_MAX_CHECK_WAIT_MS = 4_000;

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

/**
 * Bounded admission of checks (of the request `types` given), on arrival and before verification (the SDK's `serve`
 * asks it first): at most `maxInProcess` checks in process from the moment they arrive until they are answered, none
 * taken on after waiting more than `maxWaitMs` since its `created_at`. A check beyond either bound is refused at once
 * with ERR_BUSY carrying the registry's signed busy statement for the reason (one of two fixed texts, so one
 * signature per window each, whatever the flood: busy-statement.ts), never left for the requester to time out, and
 * costs the registry no verification, no lookup and no signature of its own. The `created_at` read here is the
 * request's claim, unverified: a requester can only make its own checks look late.
 */
export function checkAdmission(types: readonly string[], o: { config?: AdmissionConfig; clock: Clock; counters: AdmissionCounters }): RequestAdmission {
  const max = Math.max(1, o.config?.maxInProcess ?? DEFAULT_MAX_CHECKS_IN_PROCESS);
  const maxWaitMs = Math.max(0, o.config?.maxWaitMs ?? DEFAULT_MAX_CHECK_WAIT_MS);
  const full: BusyRefusal = { busy: `the registry has ${max} checks in process (at most ${max}): retry shortly` };
  const late: BusyRefusal = { busy: `checks wait more than ${maxWaitMs} ms before the registry reaches them: retry shortly` };
  let inProcess = 0;
  return {
    admit(req) {
      if (types.includes(req.type)) {
        if (inProcess >= max) {
          o.counters.busyFull++;
          return full;
        }
        if (o.clock.now() - req.header.createdAt.getTime() > maxWaitMs) {
          o.counters.busyLate++;
          return late;
        }
      }
      inProcess++;
      return undefined;
    },
    release() {
      inProcess--;
    },
  };
}
