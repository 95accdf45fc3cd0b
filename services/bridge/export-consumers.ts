import type { ConsumerSpec } from '../sdk/policy/index.ts';
import { agencyJsApi, SUBJECT_ROOT } from '../sdk/subjects.ts';
import { TIERS } from '../sdk/tier.ts';
import type { BridgeSide } from './compile.ts';

/**
 * The export consumers as provisioned on nats-server 2.9: compileBridgeSide's own (one per route and sealed tier,
 * each filtering exactly that copy's subject) pass unchanged. A family's stream has one subject per tier
 * (`liaison.v1.<tier>.<family>.>`) and 2.9 refuses a filter that is not a subset of one of them ("consumer filter
 * subject is not a valid subset of the interest subjects"), so a wildcard-tier filter (`liaison.v1.*.<family>.…`)
 * would be split into `<name>_<tier>` per tier.
 */
export function exportConsumersOf(side: Pick<BridgeSide, 'exportConsumers'>): ConsumerSpec[] {
  const wild = `${SUBJECT_ROOT}.*.`;
  return side.exportConsumers.flatMap((c) =>
    c.filterSubject.startsWith(wild) ? TIERS.map((tier) => ({ ...c, name: `${c.name}_${tier}`, filterSubject: `${SUBJECT_ROOT}.${tier}.${c.filterSubject.slice(wild.length)}` })) : [c],
  );
}

/** The export user's rights over {@link exportConsumersOf}: info, next message and ack of those consumers only, its own inbox. */
export function exportUserRights(side: Pick<BridgeSide, 'exportConsumers' | 'exportUser'>): { pub: { allow: string[] }; sub: { allow: string[] } } {
  const pub = exportConsumersOf(side).flatMap((c) => [agencyJsApi(`CONSUMER.INFO.${c.stream}.${c.name}`), agencyJsApi(`CONSUMER.MSG.NEXT.${c.stream}.${c.name}`), `$JS.ACK.${c.stream}.${c.name}.>`]);
  return { pub: { allow: [...new Set(pub)].sort() }, sub: { allow: [...side.exportUser.sub] } };
}
