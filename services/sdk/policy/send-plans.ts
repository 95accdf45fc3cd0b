/**
 * Send plans remembered per policy (issue 16 item 3): a service sends the same few (type, recipient,
 * markings) combinations over and over — the case registry its state changes, the centre its alerts —
 * and {@link checkSend} recomputed each from the whole policy every time (every agency's rules for
 * the observers, sorted, on every send). A plan depends on the policy and the request alone, so it is
 * decided once and reused:
 * - keyed by the policy object and its hash: a new policy (a policy apply, a directory change) is a
 *   new object and starts afresh, and a policy whose hash no longer matches drops what it remembered;
 * - bounded in size ({@link MAX_SEND_PLANS} per policy, then started afresh) and in time (entries older
 *   than {@link SEND_PLAN_TTL_MS} are decided again);
 * - refusals are never remembered: a refused send throws the typed refusal, decided anew each time.
 *
 * @module
 */
import { checkSend, type SendPlan, type SendRequest } from './decide.ts';
import type { Policy } from './model.ts';

/** Most plans remembered per policy; past it the memory starts afresh. */
export const MAX_SEND_PLANS = 1_024;

/** How long a remembered plan is used before it is decided again (ms). */
export const SEND_PLAN_TTL_MS = 60_000;

/** What {@link plannedSend} did so far (tests assert the work it saves). */
export interface SendPlanStats {
  /** Plans decided by {@link checkSend} (a first use, an expired or evicted one, a new policy). */
  decided: number;
  /** Plans reused. */
  reused: number;
}

interface Remembered {
  plan: SendPlan;
  at: number;
}

interface PolicyPlans {
  hash: string;
  plans: Map<string, Remembered>;
}

const byPolicy = new WeakMap<Policy, PolicyPlans>();

/** Counters of {@link plannedSend} in this process. */
export const sendPlanStats: SendPlanStats = { decided: 0, reused: 0 };

/** A plan as handed out: frozen, so a caller cannot change what later sends reuse. */
function frozen(plan: SendPlan): SendPlan {
  for (const c of plan.copies) Object.freeze(Object.freeze(c).recipients);
  Object.freeze(plan.copies);
  Object.freeze(plan.skipped);
  return Object.freeze(plan);
}

/**
 * {@link checkSend}, remembered per policy: the same plan for the same request under the same policy
 * (frozen), or the typed refusal. `now` is the clock the expiry runs on (default `Date.now()`).
 */
export function plannedSend(policy: Policy, req: SendRequest, now: number = Date.now()): SendPlan {
  let memo = byPolicy.get(policy);
  if (!memo || memo.hash !== policy.hash) byPolicy.set(policy, (memo = { hash: policy.hash, plans: new Map() }));
  const key = `${req.sender}\u0000${req.type}\u0000${req.recipient}\u0000${req.handling}\u0000${req.tlp}`;
  const hit = memo.plans.get(key);
  if (hit && now - hit.at >= 0 && now - hit.at < SEND_PLAN_TTL_MS) {
    sendPlanStats.reused++;
    return hit.plan;
  }
  const plan = frozen(checkSend(policy, req));
  sendPlanStats.decided++;
  if (!hit && memo.plans.size >= MAX_SEND_PLANS) memo.plans.clear();
  memo.plans.set(key, { plan, at: now });
  return plan;
}
