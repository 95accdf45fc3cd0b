import type { Command } from '../args.ts';
import { AUDIT_COMMANDS } from './audit.ts';
import { BRIDGE_AGREEMENT_COMMANDS } from './bridge-agreement.ts';
import { BRIDGE_COMMANDS } from './bridge.ts';
import { CENTRE_COMMANDS } from './centre.ts';
import { DOCTOR_COMMANDS } from './doctor.ts';
import { EXCHANGE_COMMANDS } from './exchange.ts';
import { EXPORT_COMMANDS } from './export.ts';
import { GATEWAY_COMMANDS } from './gateway.ts';
import { MESSAGE_COMMANDS } from './messages.ts';
import { POLICY_COMMANDS } from './policy.ts';
import { PERSON_COMMANDS } from './persons.ts';
import { REGISTRY_COMMANDS } from './registry.ts';
import { QUARANTINE_COMMANDS } from './quarantine.ts';
import { RETRACT_COMMANDS } from './retract.ts';
import { LEAF_COMMANDS } from './leaf.ts';
import { LIVE_COMMANDS } from './live.ts';
import { POLICY_TOOL_COMMANDS } from './policy-tools.ts';
import { SCHEMA_COMMANDS } from './schema.ts';
import { SIMULATE_COMMANDS } from './simulate.ts';
import { CONSOLE_COMMANDS } from './console.ts';
import { TRUST_COMMANDS } from './trust.ts';
import { WORKFLOW_COMMANDS } from './workflows.ts';

/** Every `liaison` command, in help order. */
export const COMMANDS: readonly Command[] = [...TRUST_COMMANDS, ...EXCHANGE_COMMANDS, ...LEAF_COMMANDS, ...MESSAGE_COMMANDS, ...RETRACT_COMMANDS, ...QUARANTINE_COMMANDS, ...REGISTRY_COMMANDS, ...PERSON_COMMANDS, ...WORKFLOW_COMMANDS, ...CENTRE_COMMANDS, ...AUDIT_COMMANDS, ...EXPORT_COMMANDS, ...POLICY_COMMANDS, ...POLICY_TOOL_COMMANDS, ...BRIDGE_AGREEMENT_COMMANDS, ...BRIDGE_COMMANDS, ...SCHEMA_COMMANDS, ...LIVE_COMMANDS, ...DOCTOR_COMMANDS, ...GATEWAY_COMMANDS, ...SIMULATE_COMMANDS, ...CONSOLE_COMMANDS];
