/**
 * What the case registry reads of the policy's directory on every transition and every deadline tick
 * — the federation's agencies, each one's country and roles, the agencies holding a supervisor role —
 * built once per policy instead of from the whole policy each time (issue 16 item 3: the registry
 * rebuilt the agency set and directory map per message and sorted the supervisors per case per tick).
 * Keyed by the policy object and its hash, so a policy or directory change is seen at once; one view
 * per live policy (a WeakMap), rebuilt after {@link DIRECTORY_VIEW_TTL_MS} in any case.
 *
 * @module
 */
import type { Policy } from '../sdk/policy/index.ts';

/** How long a view is used before it is built again from its policy (ms). */
export const DIRECTORY_VIEW_TTL_MS = 60_000;

/** The directory as the registry's transitions and deadlines read it. */
export interface DirectoryView {
  /** Agencies of the federation. */
  readonly agencies: ReadonlySet<string>;
  /** Each agency's country and roles. */
  readonly directory: ReadonlyMap<string, { country: string; roles: readonly string[] }>;
  /** The agencies holding `role`, sorted (computed once per role). */
  holding(role: string): readonly string[];
}

/** Views built so far in this process (tests assert the work saved). */
export const directoryViewStats = { built: 0 };

interface Remembered {
  hash: string;
  at: number;
  view: DirectoryView;
}

const views = new WeakMap<Policy, Remembered>();

function build(policy: Policy): DirectoryView {
  directoryViewStats.built++;
  const entries = Object.values(policy.agencies);
  const agencies = new Set(Object.keys(policy.agencies));
  const directory = new Map(entries.map((a) => [a.id, { country: a.country, roles: Object.freeze([...a.roles]) }]));
  const byRole = new Map<string, readonly string[]>();
  return {
    agencies,
    directory,
    holding(role) {
      let ids = byRole.get(role);
      if (!ids) byRole.set(role, (ids = Object.freeze(entries.filter((a) => a.roles.includes(role)).map((a) => a.id).sort())));
      return ids;
    },
  };
}

/** The directory view of `policy` (built on first use, again when its hash changed or it is older than the bound). */
export function directoryView(policy: Policy, now: number = Date.now()): DirectoryView {
  const known = views.get(policy);
  if (known && known.hash === policy.hash && now - known.at >= 0 && now - known.at < DIRECTORY_VIEW_TTL_MS) return known.view;
  const view = build(policy);
  views.set(policy, { hash: policy.hash, at: now, view });
  return view;
}
