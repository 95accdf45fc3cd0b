import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';
import type { EdgeAllowance } from './edge.ts';

/**
 * The minimal view of the message catalogue the policy engine needs: the short type names
 * (`DocumentReport`) and the family of each (`documents`).
 */
export interface TypeCatalog {
  /** The family of a short type name, or undefined when the type does not exist. */
  familyOf(type: string): string | undefined;
  /** Every short type name. */
  types(): readonly string[];
  /**
   * The tiers of the type's attachment fields (`liaison.v1.Attachment`, see attachments.ts), lowest
   * first; absent or empty: the type carries no attachments (a catalogue without schemas has none).
   */
  attachmentTiers?(type: string): readonly Tier[];
}

/**
 * Receiving scope of a rule: messages directed to the agency, broadcasts, or both; or `observe`:
 * every message of the type between any agencies (a case registry that tracks workflows between
 * others). An observer sees each message at its own tier, in stream order.
 */
export type ReceiveScope = 'direct' | 'broadcast' | 'any' | 'observe';

/** The scope of one received copy: directed to the agency, a broadcast (`all`), or observed. */
export type CopyScope = 'direct' | 'broadcast' | 'observe';

/** A state bucket kind: a key-value bucket or an object store. */
export type BucketKind = 'kv' | 'objects';

/** JetStream state a role's services keep: named KV buckets and object stores, one set per agency. */
export interface RoleState {
  kv: string[];
  objects: string[];
}

/** One `receive` rule of a role: these types, up to this tier, in this scope, with these markings. */
export interface ReceiveRule {
  /** The role the rule belongs to. */
  role: string;
  /** Position in the role's `receive` list (the rule is named `roles.<role>.receive[<index>]`). */
  index: number;
  types: string[];
  /** Ceiling: the highest sensitivity tier of the fields the role sees. */
  tier: Tier;
  scope: ReceiveScope;
  /** Handling codes the rule admits (default: all). */
  handling: HandlingCode[];
  /** TLP labels the rule admits (default: all). */
  tlp: TlpLabel[];
}

/** A role: what it may send, what it may receive. Roles are additive. */
export interface Role {
  name: string;
  description?: string;
  /** Short type names the role may send (explicit list, no wildcards). */
  send: string[];
  receive: ReceiveRule[];
  /**
   * Request types the role answers as a request/reply service (e.g. the registry answers
   * DocumentCheckRequest) on `liaison.v1.svc.<family>.<Type>`. Serving also needs a direct receive rule
   * for the type (the tier the requests are sealed at).
   */
  serve: string[];
  /**
   * JetStream state the role's services keep (e.g. a case registry's KV bucket). The exchange
   * provisions one bucket per agency and name (`<agency>_<name>`) and grants the agency rights on its
   * own buckets only; replicas of the agency share them.
   */
  state: RoleState;
}

/** An agency named by the policy. */
export interface AgencyEntry {
  /** Agency id (a NATS subject token, never `all`). */
  id: string;
  name: string;
  /** ICAO 3-letter country code, uppercase. */
  country: string;
  roles: string[];
  /**
   * Instances of this agency's services that each need every message (e.g. registry replicas that
   * each keep a full index): each replica gets its own durable consumers (`…__r2`, `…__r3`).
   * Absent means one.
   */
  replicas?: number;
}

/** A parsed, validated data-sharing policy. */
export interface Policy {
  version: 1;
  /** Federation name. */
  name: string;
  description?: string;
  roles: Record<string, Role>;
  agencies: Record<string, AgencyEntry>;
  /** Retention per family in milliseconds (families not listed use {@link Policy.defaultRetentionMs}). */
  retention: Record<string, number>;
  defaultRetentionMs: number;
  /**
   * Types whose onward dissemination needs the originator's prior consent (policy key `consent`; ¶9(c),
   * Egmont principles): see `checkConsent` (consent.ts). Absent when the policy names none.
   */
  consent?: string[];
  /**
   * Offline allowances of agencies working through a leaf node (policy key `edge`, see edge.ts): copies of such an
   * agency are accepted up to its allowance after they were signed. Absent when the policy grants none.
   */
  edge?: Record<string, EdgeAllowance>;
  /** sha256 hex of the canonical JSON of the parsed policy (stable across formatting and comments). */
  hash: string;
  source: { file?: string; text: string };
}

/** The name of a receive rule as it appears in the policy: `roles.ngo.receive[0]`. */
export function ruleName(rule: Pick<ReceiveRule, 'role' | 'index'>): string {
  return `roles.${rule.role}.receive[${rule.index}]`;
}

/** The name of a role's send list: `roles.ngo.send`. */
export function sendRuleName(role: string): string {
  return `roles.${role}.send`;
}

/** Default retention when a family has none: 365 days. */
export const DEFAULT_RETENTION_MS = 365 * 24 * 3_600_000;

/** Retention of the quarantine stream: 30 days. */
export const QUARANTINE_RETENTION_MS = 30 * 24 * 3_600_000;

/** The retention of a family under a policy. */
export function retentionOf(policy: Policy, family: string): number {
  return policy.retention[family] ?? policy.defaultRetentionMs;
}
