/**
 * Edge nodes in the policy: how long an agency's leaf node (`liaison leaf up`) may keep its sends while the link
 * to the exchange is down, and still have them accepted when it comes back. Policy key:
 *
 * ```yaml
 * edge:
 *   xa-coast-guard:
 *     offline: 24h
 * ```
 *
 * Receivers apply the freshness rule (services/sdk/client/freshness.ts) with this allowance for copies of that
 * sender, and every agency's record of handled messages is kept long enough to recognise a replay within it
 * (`handledMaxAgeMs`, compile.ts).
 */
import { isScalar } from 'yaml';
import { parseDuration } from './duration.ts';
import { closest } from './issues.ts';
import type { AgencyEntry } from './model.ts';
import { describe, entries, field, type Located, type Walk } from './yaml-walk.ts';

/** One agency's edge settings. */
export interface EdgeAllowance {
  /** The longest outage the agency's sends may wait out on its leaf: copies stored up to this long after they were signed are accepted. */
  offlineMs: number;
}

/**
 * The longest offline allowance a policy may grant: 30 days, as long as a leaf's outbox keeps a copy
 * (`OUTBOX_MAX_AGE_MS`, services/edge/outbox.ts) — a longer outage loses copies anyway, and every extra day
 * widens the window in which a holder of the agency's key could re-publish its old envelopes.
 */
export const MAX_OFFLINE_MS = 30 * 24 * 3_600_000;

const EDGE_KEYS = ['offline'] as const;

/** What the edge settings are read against and written to (a policy being validated). */
export interface EdgeTarget {
  agencies: Record<string, AgencyEntry>;
  edge?: Record<string, EdgeAllowance>;
}

/** The offline allowance of `agency` under `policy` (0: none — its copies get the default freshness tolerance). */
export function offlineAllowanceMs(policy: Pick<EdgeTarget, 'edge'>, agency: string): number {
  return policy.edge?.[agency]?.offlineMs ?? 0;
}

/** The largest offline allowance of any agency (0 when the policy grants none). */
export function maxOfflineAllowanceMs(policy: Pick<EdgeTarget, 'edge'>): number {
  return Math.max(0, ...Object.values(policy.edge ?? {}).map((e) => e.offlineMs));
}

/**
 * Read the policy's `edge` map into `body.edge`, reporting to `w.issues`: an agency the policy does not name, a key
 * other than `offline`, a missing or malformed duration, or one above {@link MAX_OFFLINE_MS}. Run after the agencies
 * are read.
 */
export function readEdge(w: Walk, loc: Located, body: EdgeTarget): void {
  const agencies = Object.keys(body.agencies);
  const out: Record<string, EdgeAllowance> = {};
  for (const e of entries(w, loc) ?? []) {
    if (!body.agencies[e.key]) {
      const hint = closest(e.key, agencies);
      w.issues.add(e.at, e.path, `unknown agency "${e.key}" (agencies: ${agencies.join(', ') || 'none'}${hint ? `; did you mean "${hint}"?` : ''})`);
      continue;
    }
    const fields = entries(w, e, EDGE_KEYS);
    const offline = fields && field(w, fields, e, 'offline', true);
    const ms = offline && offlineDuration(w, offline);
    if (ms !== undefined) out[e.key] = { offlineMs: ms };
  }
  if (Object.keys(out).length > 0) body.edge = out;
}

function offlineDuration(w: Walk, loc: Located): number | undefined {
  const text = isScalar(loc.value) && typeof loc.value.value === 'string' ? loc.value.value : undefined;
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined) {
    w.issues.add(loc.at, loc.path, `invalid duration ${describe(loc.value)} (expected a whole number of days, hours or minutes: 24h, 3d, 90m)`);
    return undefined;
  }
  if (ms > MAX_OFFLINE_MS) {
    w.issues.add(loc.at, loc.path, `offline allowance ${text} is longer than ${MAX_OFFLINE_MS / 86_400_000}d, as long as a leaf's outbox keeps a copy`);
    return undefined;
  }
  return ms;
}

/** `24h`, `3d 4h`, `90m`, `45 s`: a duration for explanations. */
export function formatDurationMs(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, s] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (rest >= s) {
      parts.push(`${Math.floor(rest / s)}${unit}`);
      rest %= s;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(' ');
}
