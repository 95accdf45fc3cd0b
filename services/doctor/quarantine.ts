import type { NatsConnection } from '@nats-io/transport-node';
import { countQuarantine, type QuarantineCounts } from '../sdk/client/quarantine-entry.ts';
import { listQuarantine } from '../sdk/client/quarantine-replay.ts';
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

/**
 * The quarantine check of `liaison doctor --as AGENCY_DIR`: the agency's own quarantine, listed through the
 * exchange with its own rights (as `liaison quarantine list` does).
 */
export async function agencyQuarantineFinding(nc: NatsConnection, agency: string, timeoutMs: number): Promise<Finding> {
  try {
    const entries = await listQuarantine({ id: agency, nc }, { replayed: true, timeoutMs });
    return quarantineFinding(entries.length ? { [agency]: countQuarantine(entries) } : {});
  } catch (err) {
    return warn('quarantine', `the exchange did not list this agency's quarantine: ${(err as Error).message}`, 'an exchange or credentials older than the quarantine listing: upgrade the exchange, re-issue the creds (liaison trust enrol --reissue)');
  }
}
