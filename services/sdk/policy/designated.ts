import type { PolicyBody } from './validate.ts';
import type { Entry, Walk } from './yaml-walk.ts';

/** The policy role of the one authority per state designated to answer boarding requests (Protocol art. 8(6)). */
export const DESIGNATED_ROLE = 'maritime-authority';

/**
 * Roles a state designates one agency for, with the provision that says so. A second agency of the
 * same country holding one is a policy error: the case registry would refuse every request of that state.
 */
export const ONE_PER_STATE_ROLES: Readonly<Record<string, string>> = {
  [DESIGNATED_ROLE]: 'Smuggling of Migrants Protocol art. 8(6): each state designates one authority to receive and answer boarding requests',
};

/**
 * Report, at the second agency's roles, every country naming more than one agency with a
 * {@link ONE_PER_STATE_ROLES} role; the message names both agencies.
 */
export function checkOnePerState(w: Walk, body: PolicyBody, agencyEntries: readonly Entry[]): void {
  const first = new Map<string, string>();
  for (const e of agencyEntries) {
    const a = body.agencies[e.key];
    if (!a || !a.country) continue;
    for (const role of a.roles.filter((r) => r in ONE_PER_STATE_ROLES)) {
      const key = `${a.country}\u0000${role}`;
      const other = first.get(key);
      if (other === undefined) first.set(key, e.key);
      else {
        w.issues.add(
          e.at,
          `${e.path}.roles`,
          `agency ${e.key} would be a second ${role} of ${a.country}, which ${other} is already: one designated authority per state (${ONE_PER_STATE_ROLES[role]})`,
        );
      }
    }
  }
}
