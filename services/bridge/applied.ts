import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { compilePermissions, type CompiledPermissions } from '../sdk/policy/index.ts';
import { coveringPattern } from '../sdk/policy/subject-match.ts';
import type { Ed25519PublicJwk } from '../sdk/trust/keys.ts';
import { listAppliedAgreements } from '../trust/applied-agreements.ts';
import type { Agreement } from './agreement/model.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { compileBridgeSide, type BridgeSide } from './compile.ts';

/** One agreement applied in a trust dir, verified now, with this federation's compiled side of it. */
export interface AppliedBridge {
  id: string;
  agreement: Agreement;
  side: BridgeSide;
}

/**
 * Every agreement applied in `trustDir`, verified again (both roots, expiry) and compiled for this federation's
 * policy. One that no longer verifies (expired) is left out and reported through `onIssue`.
 */
export async function appliedBridges(
  trustDir: string,
  self: { federation: string; root: Ed25519PublicJwk },
  policy: Policy,
  catalog: TypeCatalog,
  o: { now?: Date; onIssue?: (message: string) => void } = {},
): Promise<AppliedBridge[]> {
  const out: AppliedBridge[] = [];
  for (const { id, agreement: doc } of await listAppliedAgreements(trustDir)) {
    try {
      const agreement = verifyAgreement(doc, self, o.now ?? new Date(), { catalog });
      out.push({ id, agreement, side: compileBridgeSide(agreement, self.federation, policy, catalog) });
    } catch (err) {
      o.onIssue?.(`agreement ${id}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * An agency's NATS permissions with the applied agreements: its policy-compiled ones plus the outbound flows'
 * subjects it may publish (`senderPublish`, bridge design §4) that they do not cover already. Every re-issue of a
 * sender goes through here, so a bridge's rights and the policy's stay one set.
 *
 * Note: a sender's compiled rights for a type it may send end in `*` (any recipient token), which NATS matches to
 * `<peer>:<agency>` too. The sending broker therefore cannot refuse a copy of a sendable type to a foreign recipient
 * outside the agreement; what keeps it home is that no export consumer matches it (the export user reads exactly the
 * flows), and the receiving broker refuses the import user any other subject.
 */
export function bridgedPermissions(policy: Policy, agencyId: string, catalog: TypeCatalog, bridges: readonly AppliedBridge[]): CompiledPermissions {
  const base = compilePermissions(policy, agencyId, catalog);
  // A sender's own `liaison.v1.<tier>.<family>.<Type>.<self>.*` already covers `….<peer>:<agency>` ('*' is any
  // token): only subjects it does not cover are added (NATS refuses an account whose imports overlap).
  const extra = bridges.flatMap((b) => b.side.senderPublish[agencyId] ?? []).filter((s) => !coveringPattern(base.pub.allow, s));
  if (extra.length === 0) return base;
  return { ...base, pub: { allow: [...new Set([...base.pub.allow, ...extra])].sort() } };
}

/** The local senders of outbound flows over `bridges`. */
export function bridgedSenders(bridges: readonly AppliedBridge[]): string[] {
  return [...new Set(bridges.flatMap((b) => Object.keys(b.side.senderPublish)))].sort();
}
