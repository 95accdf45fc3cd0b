import { HANDLING_CODES, TLP_LABELS } from '../tier.ts';
import type { ReceiveRule } from './model.ts';

/**
 * Built-in rights every agency has whatever its roles, so that no policy author has to remember them:
 * each agency may retract or correct its own messages (`Retraction`, and `RetractionReceipt` back to the
 * original sender), and must receive the retractions of what it got, directed to itself, at the
 * operational tier (their fields are ids, a type name and a reason). The policy engine adds them to
 * every send list and receive rule set, so the compiled permissions, consumers and the checks at
 * send and receive agree.
 *
 * @module
 */

/** The control types of the built-in rights (the `control` family). */
export const CONTROL_TYPES: readonly string[] = ['Retraction', 'RetractionReceipt'];

/** The pseudo-role the built-in rules belong to (`roles.built-in.send`, `roles.built-in.receive[0]`). */
export const BUILTIN_ROLE = 'built-in';

/** True for a type every agency may send and receive directed to itself, whatever the policy says. */
export function isControlType(type: string): boolean {
  return CONTROL_TYPES.includes(type);
}

/** The built-in receive rule: the control types, directed, operational tier, every handling code and TLP. */
export const BUILTIN_RECEIVE_RULE: ReceiveRule = {
  role: BUILTIN_ROLE,
  index: 0,
  types: [...CONTROL_TYPES],
  tier: 'operational',
  scope: 'direct',
  handling: [...HANDLING_CODES],
  tlp: [...TLP_LABELS],
};
