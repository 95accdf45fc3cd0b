import type { ConsumerSpec } from '../sdk/policy/index.ts';
import { agencyJsApi, SUBJECT_ROOT } from '../sdk/subjects.ts';
import { TIERS } from '../sdk/tier.ts';
import type { BridgeSide } from './compile.ts';

/**
 * The export consumers as nats-server 2.9 can hold them: one per tier of each compiled one. A family's stream has one
 * subject per tier (`liaison.v1.<tier>.<family>.>`), and 2.9 refuses a filter that is not a subset of one of them
 * ("consumer filter subject is not a valid subset of the interest subjects"), so the compiled
 * `liaison.v1.*.<family>.…` filter becomes four: `<name>_<tier>` filtering `liaison.v1.<tier>.<family>.…`.
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
