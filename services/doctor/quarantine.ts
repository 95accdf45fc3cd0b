import type { QuarantineCounts } from '../sdk/client/quarantine-entry.ts';
import { ok, warn, type Finding } from './finding.ts';

function figures(agency: string, q: QuarantineCounts): string {
  return `${agency}: ${q.inDoubt} in doubt, ${q.deadLetter} dead letters, ${q.other} other refusals waiting (${q.replayed} replayed)`;
}

/**
 * The quarantine check of `liaison doctor --dir`: what waits in each agency's quarantine, by reason (the counts
 * are in the finding's `data.quarantine`). Dead letters waiting are a warning: messages the agency's handler
 * could not take, which nothing hands to it again until its operator replays them.
 */
export function quarantineFinding(counts: Record<string, QuarantineCounts>): Finding {
  const data = { quarantine: counts };
  const dead = Object.entries(counts).filter(([, q]) => q.deadLetter > 0);
  const all = Object.entries(counts).map(([a, q]) => figures(a, q));
  if (dead.length > 0) {
    return {
      ...warn('quarantine', `dead letters waiting: ${dead.map(([a, q]) => figures(a, q)).join('; ')}`, 'as each agency: liaison quarantine list --as AGENCY_DIR, fix what made its handler fail, then liaison quarantine replay --as AGENCY_DIR --all --reason ERR_DEAD_LETTER'),
      data,
    };
  }
  return { ...ok('quarantine', all.length ? all.join('; ') : 'nothing quarantined'), data };
}
