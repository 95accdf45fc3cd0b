import { createHash } from 'node:crypto';
import type { Ed25519PublicJwk } from '../../sdk/trust/keys.ts';
import { isAgencyId } from '../../sdk/subjects.ts';
import type { Tier } from '../../sdk/tier.ts';

/**
 * The cross-federation agreement (issue 17, design §1–3): two federations, each named by its root key, and the
 * flows one agency of one may send to one agency of the other. Inside a federation its own agencies keep their
 * ids (`xa-police`); an agency of the other federation is named `<federation>:<agency>` (`atl:xb-police`). ':'
 * is a NATS subject token character but never part of a local agency id, so the two never collide.
 *
 * @module
 */

/** A federation name as agreements use it (the trust dir's `directory.federation`). */
export const FEDERATION_TOKEN_RE = /^[a-z][a-z0-9-]{1,30}$/;

/** An agreement id: one lowercase token (used in file names and `--agreement ID`). */
export const AGREEMENT_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The separator of a qualified id. */
export const QUALIFIER = ':';

/** True when `name` is a valid federation name for agreements. */
export function isFederationToken(name: string): boolean {
  return FEDERATION_TOKEN_RE.test(name);
}

/** The qualified id of `agency` of federation `fed`: `atl:xb-police`. */
export function qualified(fed: string, agency: string): string {
  return `${fed}${QUALIFIER}${agency}`;
}

/** The parts of a qualified id, or undefined unless it is `<federation>:<agency>` with both parts valid. */
export function parseQualified(id: string): { federation: string; agency: string } | undefined {
  const i = id.indexOf(QUALIFIER);
  if (i < 0 || id.indexOf(QUALIFIER, i + 1) >= 0) return undefined;
  const federation = id.slice(0, i);
  const agency = id.slice(i + 1);
  if (!isFederationToken(federation) || !isAgencyId(agency)) return undefined;
  return { federation, agency };
}

/**
 * An id as seen from federation `self`, for an id written in federation `origin`'s namespace (design §2):
 * `<self>:x` → `x` (one of our own); an unqualified `x` written in another federation → `<origin>:x`. Anything
 * else (an unqualified id written here, or an id qualified with a third federation) is returned unchanged.
 */
export function localise(id: string, self: string, origin: string): string {
  const q = parseQualified(id);
  if (q) return q.federation === self ? q.agency : id;
  if (origin === self || id.includes(QUALIFIER)) return id;
  return qualified(origin, id);
}

/** One party of an agreement: its federation name and root public key. */
export interface FederationRef {
  name: string;
  root: Ed25519PublicJwk;
}

/** One flow: exactly this sender may send these types to exactly this recipient, up to this tier. */
export interface Flow {
  /** Qualified sender `<fed>:<agency>`. */
  from: string;
  /** Qualified recipient `<fed>:<agency>` of the other federation. */
  to: string;
  types: string[];
  /** The highest tier of the copies the flow admits. */
  tier: Tier;
  /** Position in the agreement's `flows` list (the flow is named `flows[<index>]`). */
  index: number;
}

/** A parsed, validated agreement. */
export interface Agreement {
  id: string;
  federations: [FederationRef, FederationRef];
  flows: Flow[];
  expiresAt: Date;
  description?: string;
  /**
   * `outage: 24h`: how long a bridge between the two may be down and its backlog still be accepted. Receivers accept
   * a copy of the other federation's agencies stored up to this long (plus the clock skew) after it was signed, as a
   * policy's `edge.<agency>.offline` does for a leaf; absent, the default freshness tolerance (minutes).
   */
  outageMs?: number;
  /** The YAML text, byte for byte as both roots sign it. */
  text: string;
  /** {@link agreementHash} of `text`. */
  hash: string;
  source: { file?: string };
}

/** `agreement.signed.json`: the text and, per federation name, its root's compact JWS over the text. */
export interface SignedAgreementFile {
  text: string;
  signatures: Record<string, string>;
}

/** The name of a flow as errors and tables print it: `flows[2]`. */
export function flowName(flow: Pick<Flow, 'index'>): string {
  return `flows[${flow.index}]`;
}

/** The one hash of an agreement: `sha256:` and the hex SHA-256 of its text (like the policy hash). */
export function agreementHash(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/** The other party of the agreement, seen from `self`; undefined when `self` is not a party. */
export function peerOf(agreement: Agreement, self: string): FederationRef | undefined {
  const [a, b] = agreement.federations;
  return a.name === self ? b : b.name === self ? a : undefined;
}

/** The federation named `name`, if it is a party. */
export function federationOf(agreement: Agreement, name: string): FederationRef | undefined {
  return agreement.federations.find((f) => f.name === name);
}
