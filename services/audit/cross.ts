import { stat } from 'node:fs/promises';
import { parseQualified } from '../bridge/agreement/model.ts';
import { readOwnFederation } from '../bridge/agreement/own.ts';
import { appliedBridges, type AppliedBridge } from '../bridge/applied.ts';
import { checkCrossReceive, checkCrossSend } from '../bridge/decide.ts';
import { exportConsumersOf } from '../bridge/export-consumers.ts';
import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import type { MessageSubject } from '../sdk/subjects.ts';
import type { Ed25519PublicJwk } from '../sdk/trust/keys.ts';
import { appliedAgreementFile } from '../trust/applied-agreements.ts';
import type { CrossFacts } from './entry.ts';

/**
 * What the audit records of a copy that crosses a cross-federation agreement (issue 17, bridge design §8): a copy
 * whose subject names a qualified `<peer>:<agency>` sender (inbound: the bridge stored it here) or recipient
 * (outbound: the bridge exports it). Each is judged against the agreements applied on this exchange, as the broker
 * and the SDKs judge it: outbound, an export consumer must read exactly that subject (the bridge reads nothing else);
 * inbound, an inbound route must admit that sender, recipient, type and tier (the receiving SDK checks nothing less).
 *
 * @module
 */

/** Reload the applied agreements at most this often… */
const FRESH_MS = 1_000;
/** …and, for a copy none of them admits, once more if the last read is older than this (an agreement just applied). */
const MISS_MS = 100;

/** A copy's admission across the applied agreements: its cross facts, and for an admitted outbound copy the qualified recipient the bridge delivers it to. */
export interface CrossJudgement {
  /** This federation's name (the copy's subject is in its namespace; an inbound copy's headers in the peer's). */
  self: string;
  facts: CrossFacts;
  /** The qualified recipient the bridge hands the copy to (outbound, admitted). */
  deliversTo?: string;
}

/** The applied agreements of one exchange, re-read from TRUST_DIR/bridges as `bridge apply`/`revoke` change them. */
export class CrossBook {
  readonly #trustDir: string;
  readonly #catalog: TypeCatalog;
  readonly #self: { federation: string; root: Ed25519PublicJwk };
  #bridges: AppliedBridge[] = [];
  /** The modification time of each applied agreement's file when read (a re-apply or revoke changes or removes it). */
  #mtimes = new Map<string, number>();
  #readAt = 0;
  #policyHash = '';

  private constructor(trustDir: string, catalog: TypeCatalog, self: { federation: string; root: Ed25519PublicJwk }) {
    this.#trustDir = trustDir;
    this.#catalog = catalog;
    this.#self = self;
  }

  /** Open the book of the federation in `trustDir` (its name and root from its root-signed directory). */
  static async open(trustDir: string, catalog: TypeCatalog): Promise<CrossBook> {
    const own = await readOwnFederation(trustDir);
    return new CrossBook(trustDir, catalog, { federation: own.name, root: own.root });
  }

  /** This federation's name. */
  get federation(): string {
    return this.#self.federation;
  }

  /** The applied agreements, verified and compiled under `policy` (re-read when stale or the policy changed). */
  async bridges(policy: Policy, maxAgeMs = FRESH_MS): Promise<AppliedBridge[]> {
    if (policy.hash !== this.#policyHash || Date.now() - this.#readAt > maxAgeMs) {
      this.#readAt = Date.now();
      this.#bridges = await appliedBridges(this.#trustDir, this.#self, policy, this.#catalog);
      this.#mtimes = new Map(await Promise.all(this.#bridges.map(async (b) => [b.id, await this.#mtime(b.id)] as const)));
      this.#policyHash = policy.hash;
    }
    return this.#bridges;
  }

  /** The modification time of agreement `id`'s applied file (0: gone, revoked). */
  async #mtime(id: string): Promise<number> {
    return (await stat(appliedAgreementFile(this.#trustDir, id)).catch(() => undefined))?.mtimeMs ?? 0;
  }

  /**
   * Judge a copy stored under subject `s` (parsed): undefined when neither its sender nor its recipient is
   * qualified (a copy within this federation). A copy none of the current agreements admits is judged again on a
   * fresh read before it is recorded as refused; one admitted under an agreement whose file changed or went since it
   * was read (re-applied, revoked) is judged again on a fresh read too.
   */
  async judge(s: MessageSubject, subject: string, policy: Policy): Promise<CrossJudgement | undefined> {
    if (!isCross(s)) return undefined;
    const first = judgeCopy(s, subject, this.#self.federation, await this.bridges(policy));
    const by = first.facts.agreement;
    if (by !== undefined && (await this.#mtime(by)) === this.#mtimes.get(by)) return first;
    return judgeCopy(s, subject, this.#self.federation, await this.bridges(policy, by === undefined ? MISS_MS : 0));
  }
}

/** True when a copy's subject names a qualified sender or recipient. */
export function isCross(s: Pick<MessageSubject, 'sender' | 'recipient'>): boolean {
  return s.sender.includes(':') || s.recipient.includes(':');
}

/** The export consumer of `bridge` that reads exactly `subject`, if any. */
function exportConsumerOf(bridge: AppliedBridge, subject: string): string | undefined {
  return exportConsumersOf(bridge.side).find((c) => c.filterSubject === subject)?.name;
}

/**
 * Judge one copy (subject tokens in this federation's namespace) against `bridges`. Outbound (local sender, foreign
 * recipient): admitted when a route admits the pair and type and an export consumer reads exactly its subject.
 * Inbound (foreign sender, local recipient): admitted when a route admits the pair, type and tier. Anything else
 * (both or neither qualified with one peer, this federation's own name) is refused with the reason.
 */
export function judgeCopy(s: MessageSubject, subject: string, self: string, bridges: readonly AppliedBridge[]): CrossJudgement {
  const from = parseQualified(s.sender);
  const to = parseQualified(s.recipient);
  const foreign = from ?? to;
  const direction = to && !from ? 'outbound' : 'inbound';
  const peer = foreign?.federation ?? (s.sender.includes(':') ? s.sender : s.recipient).split(':')[0]!;
  const refused = (why: string): CrossJudgement => ({ self, facts: { peer, direction, refused: why } });
  if (!foreign) return refused(`${s.sender.includes(':') ? s.sender : s.recipient} is not a qualified agency id`);
  if (from && to) return refused('both the sender and the recipient are qualified: a copy crosses one bridge, from or to this federation');
  if (foreign.federation === self) return refused(`${foreign.federation} is this federation's own name`);
  const withPeer = bridges.filter((b) => b.side.peer === peer);
  if (withPeer.length === 0) return refused(`no agreement with ${peer} is applied on this exchange`);
  const reasons: string[] = [];
  for (const b of withPeer) {
    try {
      if (direction === 'outbound') {
        const route = checkCrossSend(b.side, { sender: s.sender, recipient: s.recipient, type: s.type });
        const via = exportConsumerOf(b, subject);
        if (via) return { self, facts: { peer, direction, agreement: b.id, flow: route.flow, via }, deliversTo: s.recipient };
        reasons.push(`agreement ${b.id} ${route.flow} exports ${s.type} from ${s.sender} to ${s.recipient} up to the ${route.tier} tier, not ${s.tier}`);
      } else {
        const route = checkCrossReceive(b.side, { sender: s.sender, recipient: s.recipient, type: s.type, tier: s.tier });
        return { self, facts: { peer, direction, agreement: b.id, flow: route.flow } };
      }
    } catch (err) {
      reasons.push((err as Error).message);
    }
  }
  return refused(reasons.join('; '));
}

/** A cross copy recorded when the applied agreements could not be read: refused, with why. */
export function unjudged(s: MessageSubject, subject: string, self: string, why: string): CrossJudgement {
  const j = judgeCopy(s, subject, self, []);
  return { ...j, facts: { peer: j.facts.peer, direction: j.facts.direction, refused: `not judged: ${why}` } };
}

/** Where JetStream announces a message terminated on a consumer (`.<stream>.<consumer>`). */
export const TERMINATED_ADVISORY = '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED';

/** The facts of a MSG_TERMINATED advisory on an export consumer (`bridge_…`); undefined for any other consumer or payload. */
export function bridgeRefusal(data: Uint8Array): { stream: string; seq: number; consumer: string; deliveries?: number } | undefined {
  let a: { stream?: unknown; consumer?: unknown; stream_seq?: unknown; deliveries?: unknown };
  try {
    a = JSON.parse(Buffer.from(data).toString('utf8')) as typeof a;
  } catch {
    return undefined;
  }
  if (typeof a.stream !== 'string' || typeof a.consumer !== 'string' || !a.consumer.startsWith('bridge_') || !Number.isSafeInteger(a.stream_seq)) return undefined;
  return { stream: a.stream, seq: a.stream_seq as number, consumer: a.consumer, ...(Number.isSafeInteger(a.deliveries) ? { deliveries: a.deliveries as number } : {}) };
}
