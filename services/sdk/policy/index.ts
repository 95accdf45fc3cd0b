/**
 * The policy engine: a data-sharing agreement as code. Parse and validate a YAML policy, decide
 * sends and receipts at runtime, and compile the broker artefacts (NATS permissions, JetStream
 * streams and consumers).
 */
export type { AgencyEntry, BucketKind, CopyScope, Policy, ReceiveRule, ReceiveScope, Role, RoleState, TypeCatalog } from './model.ts';
export { DEFAULT_RETENTION_MS, QUARANTINE_RETENTION_MS, retentionOf, ruleName, sendRuleName } from './model.ts';
export type { ParsePolicyOptions } from './load.ts';
export { loadPolicyFile, parsePolicy } from './load.ts';
export { policyHash } from './policy-hash.ts';
export type { PolicyIssue } from './issues.ts';
export { parseDuration } from './duration.ts';
export type { EdgeAllowance } from './edge.ts';
export { MAX_OFFLINE_MS, maxOfflineAllowanceMs, offlineAllowanceMs } from './edge.ts';
export { canonicalHash, canonicalJson } from './canonical.ts';
export type { Ceiling, Decision, PlannedCopy, ReceiveGrant, ReceiveRequest, SendPlan, SendRequest, SkippedRecipient } from './decide.ts';
export { NON_BROADCAST_TLP, canSend, checkReceive, checkSend, decideReceive, decideSend, receiveCeiling } from './decide.ts';
export { BUILTIN_RECEIVE_RULE, BUILTIN_ROLE, CONTROL_TYPES, isControlType } from './builtin.ts';
export type { BucketSpec, CompiledPermissions, ConsumerSpec, StreamSpec } from './compile.ts';
export {
  ACK_WAIT_MS,
  DUPLICATE_WINDOW_MS,
  MAX_ACK_PENDING,
  HANDLED_BUCKET,
  SERVICE_RESPONSES,
  agencyBuckets,
  agencyServes,
  bucketPermissions,
  bucketStream,
  bucketSubscriptions,
  compileBuckets,
  compileConsumers,
  compilePermissions,
  compileStreams,
  sendableTypes,
  servedTypes,
} from './compile.ts';
