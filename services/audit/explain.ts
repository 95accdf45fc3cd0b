import type { BridgeRefusalEntry, CopyEntry, CrossFacts, Entry, QuarantineEntry, ReceiptEntry } from './entry.ts';

/** What the ledger says of one message: its copies, who each was for, who acknowledged it, who refused it. */
export interface MessageExplanation {
  id: string;
  type?: string;
  sender?: string;
  recipient?: string;
  copies: { tier: string; subject: string; storedAt: string; seq: number; stream: string; deliverTo: string[]; acknowledged: string[]; digest: string; cross?: CrossFacts }[];
  refused: { by: string; code: string; reason: string; at: string }[];
}

/** True when a copy entry names message `id`: its ce-id, or its Nats-Msg-Id (`<sender>:<id>:<tier>`, or `<id>:<tier>` before senders were part of it). */
function copyOf(e: CopyEntry, id: string): boolean {
  const msgId = e.msgId ?? '';
  return e.id === id || msgId.startsWith(`${e.sender}:${id}:`) || msgId.startsWith(`${id}:`);
}

/** Acknowledgement floors by stream and agency, and by stream and consumer name (`\u0001` keys), from the receipt entries. */
function ackFloors(entries: readonly Entry[]): Map<string, number> {
  const floors = new Map<string, number>();
  const raise = (key: string, floor: number) => floors.set(key, Math.max(floors.get(key) ?? 0, floor));
  for (const r of entries.filter((e): e is ReceiptEntry => e.kind === 'receipt')) {
    for (const a of r.acks) {
      raise(`${a.stream}\u0000${a.agency}`, a.ackFloor);
      raise(`${a.stream}\u0001${a.consumer}`, a.ackFloor);
    }
  }
  return floors;
}

/** The copies the bridge terminated (the peer's broker refused them), by `<stream>#<seq>`. */
export function bridgeRefusals(entries: readonly Entry[]): Map<string, BridgeRefusalEntry> {
  return new Map(entries.filter((e): e is BridgeRefusalEntry => e.kind === 'bridge-refusal').map((e) => [`${e.stream}#${e.seq}`, e]));
}

/** The bridge's termination of copy `c`, when it was terminated on the export consumer the copy went out through. */
export function refusedAcross(c: CopyEntry, refusals: Map<string, BridgeRefusalEntry>): BridgeRefusalEntry | undefined {
  const r = c.cross?.via ? refusals.get(`${c.stream}#${c.seq}`) : undefined;
  return r && r.consumer === c.cross!.via ? r : undefined;
}

/**
 * The agencies of `deliverTo` that acknowledged copy `c`: a local agency by its consumer's floor; the qualified
 * recipient of an admitted outbound copy by the export consumer's (the bridge acks only once the peer stored it).
 */
function acknowledgedBy(c: CopyEntry, floors: Map<string, number>, refusals: Map<string, BridgeRefusalEntry>): string[] {
  const across = c.cross?.direction === 'outbound' && c.cross.via ? c.recipient : undefined;
  if (across && refusedAcross(c, refusals)) return acknowledgedBy({ ...c, deliverTo: c.deliverTo.filter((a) => a !== across), cross: undefined }, floors, refusals);
  return c.deliverTo.filter((a) => (a === across ? (floors.get(`${c.stream}\u0001${c.cross!.via}`) ?? 0) : (floors.get(`${c.stream}\u0000${a}`) ?? 0)) >= c.seq);
}

/** One sender's message `id`: its copies (sender token of their subject) and the refusals of them. */
function explainOne(entries: readonly Entry[], id: string, sender: string, floors: Map<string, number>, refusals: Map<string, BridgeRefusalEntry>): MessageExplanation | undefined {
  const copies = entries.filter((e): e is CopyEntry => e.kind === 'copy' && e.sender === sender && copyOf(e, id));
  const refused = entries.filter(
    (e): e is QuarantineEntry =>
      e.kind === 'quarantine' && ((e.id === id && e.claimedSender === sender) || (e.id === undefined && e.originalSubject !== undefined && copies.some((c) => c.subject === e.originalSubject))),
  );
  if (copies.length === 0 && refused.length === 0) return undefined;
  const first = copies[0];
  return {
    id,
    sender,
    ...(first ? { type: first.type, recipient: first.recipient } : {}),
    copies: copies.map((c) => ({
      tier: c.tier,
      subject: c.subject,
      storedAt: c.at,
      seq: c.seq,
      stream: c.stream,
      deliverTo: c.deliverTo,
      acknowledged: acknowledgedBy(c, floors, refusals),
      digest: c.digest,
      ...(c.cross ? { cross: c.cross } : {}),
    })),
    refused: [
      ...refused.map((q) => ({ by: q.by, code: q.code, reason: q.reason, at: q.at })),
      ...copies.flatMap((c) => {
        const r = refusedAcross(c, refusals);
        return r ? [{ by: c.recipient, code: 'REFUSED_ACROSS', reason: `the bridge terminated the ${c.tier} copy on ${r.consumer}: ${c.cross!.peer}'s broker refused it`, at: r.at }] : [];
      }),
    ],
  };
}

/**
 * Explain the messages with header id `id` from the audit ledger entries (`liaison explain MSG_ID`):
 * one explanation per sender, since ids come from the sender and a message is (sender, id) — another
 * agency's message with the same id is a different message and never merged into this one. `sender`
 * restricts it to that sender's. Empty when the ledger has no copy of it.
 */
export function explainMessage(entries: readonly Entry[], id: string, sender?: string): MessageExplanation[] {
  const senders = new Set<string>();
  for (const e of entries) {
    if (e.kind === 'copy' && copyOf(e, id)) senders.add(e.sender);
    else if (e.kind === 'quarantine' && e.id === id && e.claimedSender !== undefined) senders.add(e.claimedSender);
  }
  const floors = ackFloors(entries);
  const refusals = bridgeRefusals(entries);
  return [...senders]
    .filter((s) => sender === undefined || s === sender)
    .sort()
    .map((s) => explainOne(entries, id, s, floors, refusals))
    .filter((x): x is MessageExplanation => x !== undefined);
}
