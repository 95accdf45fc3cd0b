import type { Policy, TypeCatalog } from '../policy/index.ts';
import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';
import type { Ed25519PublicJwk } from '../trust/keys.ts';
import type { KeyResolver } from './open.ts';

/**
 * What the receive and send pipelines need to know of the cross-federation agreements in force (issue 17,
 * bridge design §2–3). The SDK verifies everything itself, but the agreement model, its signature check and its
 * compilation live in services/bridge (which imports only the SDK): a client is handed them as a
 * {@link CrossSupport} (`LiaisonClient.connect({ bridges })`), so no SDK file imports upwards.
 */

/** This federation's side of one verified agreement. */
export interface CrossSide {
  agreementId: string;
  /** The other federation's name. */
  peer: string;
  /** The other federation's root, as both roots signed it in the agreement: the foreign directory is verified against it. */
  peerRoot: Ed25519PublicJwk;
  /** The agreement's `outage` allowance (0: none): copies of the peer's agencies stored this late after signing are still fresh. */
  outageMs?: number;
  /** The tiers a local sender seals for a foreign recipient (qualified); empty: no flow admits it. */
  sendTiers(sender: string, recipient: string, type: string): Tier[];
  /** Throw the typed policy refusal unless a flow admits this send (ids in the local namespace). */
  checkSend(req: { sender: string; recipient: string; type: string }): void;
  /**
   * Throw the typed policy refusal unless a flow admits this received copy (sender qualified); given its markings,
   * ERR_POLICY_HANDLING_DENIED unless the recipient's own receive rules at that tier admit them.
   */
  checkReceive(req: { sender: string; recipient: string; type: string; tier: Tier; handling?: HandlingCode; tlp?: TlpLabel }): void;
  /**
   * Whether a flow names this sender → recipient for this type, either way (ids in the local namespace, the foreign
   * one qualified): what a cross copy seen by an observer must be (cross-observe.ts). Absent: none is.
   */
  namesPair?(req: { sender: string; recipient: string; type: string }): boolean;
}

/** The cross-federation facts of one open or seal: who we are, the agreements' sides, the peers' keys. */
export interface CrossContext {
  /** This federation's name (its directory's `federation`). */
  federation: string;
  /** By peer federation name. */
  sides: ReadonlyMap<string, CrossSide>;
  /** A peer's key resolver, from its root-signed directory verified against {@link CrossSide.peerRoot}; undefined until fetched. */
  keys(peer: string): KeyResolver | undefined;
  /** Design §2: an id written in `origin`'s namespace, as seen from `self`. */
  localise(id: string, self: string, origin: string): string;
}

/** The federation an id or subject token belongs to: the part before ':' of a qualified id, else `self`. */
export function originOf(token: string, self: string): string {
  const i = token.indexOf(':');
  return i > 0 ? token.slice(0, i) : self;
}

/** What services/bridge gives a client: verify a directory's agreements and compile this federation's side of each. */
export interface CrossSupport {
  /**
   * The sides of the agreements a verified directory carries (each verified against both roots, the own one being
   * `root`); an agreement that does not verify or has expired is left out (and reported through `onIssue`).
   */
  sides(o: {
    federation: string;
    root: Ed25519PublicJwk;
    agreements: readonly { text: string; signatures: Record<string, string> }[];
    policy: Policy;
    catalog: TypeCatalog;
    now: Date;
    /** The peers' policies (from their verified directories): a sender then seals only the tier its recipient reads. */
    peerPolicies?: ReadonlyMap<string, Policy>;
    onIssue?: (message: string) => void;
  }): CrossSide[];
  localise(id: string, self: string, origin: string): string;
}
