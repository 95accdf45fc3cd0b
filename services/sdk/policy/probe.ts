import type { Policy } from './model.ts';

/**
 * Probes: the policy tools ask the real decision engine about a role, or about "any sender", by
 * deciding on a copy of the policy with one extra agency. The engine's semantics (ceilings, ties,
 * markings, broadcast rules) stay in one place, `decide.ts`; the probe never changes the original.
 */

/** The probe agency id standing for a role: `role:ngo` (never a valid agency id, so never a clash). */
export function roleProbeId(role: string): string {
  return `role:${role}`;
}

/** The probe agency id standing for any agency that may send the type. */
export const ANY_SENDER = '(any sender)';

/** The policy plus an agency `role:<role>` holding only `role`. */
export function withRoleProbe(policy: Policy, role: string): { policy: Policy; agency: string } {
  const id = roleProbeId(role);
  const agencies = { ...policy.agencies, [id]: { id, name: `any agency with role ${role}`, country: 'XXX', roles: [role] } };
  return { policy: { ...policy, agencies }, agency: id };
}

/** The policy plus an agency {@link ANY_SENDER} whose only role may send `type` and receives nothing. */
export function withAnySender(policy: Policy, type: string): { policy: Policy; agency: string } {
  const roles = { ...policy.roles, [ANY_SENDER]: { name: ANY_SENDER, send: [type], receive: [], serve: [], state: { kv: [], objects: [] } } };
  const agencies = { ...policy.agencies, [ANY_SENDER]: { id: ANY_SENDER, name: 'any agency that may send the type', country: 'XXX', roles: [ANY_SENDER] } };
  return { policy: { ...policy, roles, agencies }, agency: ANY_SENDER };
}
