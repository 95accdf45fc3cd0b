import type { CopyEntry, Entry, QuarantineEntry, ReceiptEntry } from './entry.ts';

/** What the ledger says of one message: its copies, who each was for, who acknowledged it, who refused it. */
export interface MessageExplanation {
  id: string;
  type?: string;
  sender?: string;
  recipient?: string;
  copies: { tier: string; subject: string; storedAt: string; seq: number; stream: string; deliverTo: string[]; acknowledged: string[]; digest: string }[];
  refused: { by: string; code: string; reason: string; at: string }[];
}

/** Explain a message from the audit ledger entries (`liaison explain MSG_ID`); undefined when the ledger has no copy of it. */
export function explainMessage(entries: readonly Entry[], id: string): MessageExplanation | undefined {
  const copies = entries.filter((e): e is CopyEntry => e.kind === 'copy' && (e.id === id || (e.msgId ?? '').startsWith(`${id}:`)));
  const refused = entries.filter((e): e is QuarantineEntry => e.kind === 'quarantine' && (e.id === id || (e.originalSubject !== undefined && copies.some((c) => c.subject === e.originalSubject) && e.id === undefined)));
  if (copies.length === 0 && refused.length === 0) return undefined;
  const floors = new Map<string, number>();
  for (const r of entries.filter((e): e is ReceiptEntry => e.kind === 'receipt')) {
    for (const a of r.acks) {
      const key = `${a.stream}\u0000${a.agency}`;
      floors.set(key, Math.max(floors.get(key) ?? 0, a.ackFloor));
    }
  }
  const first = copies[0];
  return {
    id,
    ...(first ? { type: first.type, sender: first.sender, recipient: first.recipient } : {}),
    copies: copies.map((c) => ({
      tier: c.tier,
      subject: c.subject,
      storedAt: c.at,
      seq: c.seq,
      stream: c.stream,
      deliverTo: c.deliverTo,
      acknowledged: c.deliverTo.filter((a) => (floors.get(`${c.stream}\u0000${a}`) ?? 0) >= c.seq),
      digest: c.digest,
    })),
    refused: refused.map((q) => ({ by: q.by, code: q.code, reason: q.reason, at: q.at })),
  };
}
