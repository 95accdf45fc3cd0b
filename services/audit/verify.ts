import type { KeyObject } from 'node:crypto';
import { verifyCheckpoint } from './checkpoint.ts';
import { decodeEntry, GENESIS, sha256, type Entry } from './entry.ts';
import type { StoredEntry } from './ledger-stream.ts';

/** What broke, for one entry. */
export type ProblemKind =
  | 'malformed'
  | 'sequence-gap'
  | 'hash-mismatch'
  | 'removed'
  | 'inserted'
  | 'reordered'
  | 'checkpoint-signature'
  | 'checkpoint-head';

/** One finding of {@link verifyLedger}: the entry number it concerns, the stream sequence where it was found. */
export interface Problem {
  kind: ProblemKind;
  entry?: number;
  seq: number;
  message: string;
}

/** The outcome of verifying a ledger. */
export interface VerifyReport {
  ok: boolean;
  /** Stored entries read. */
  entries: number;
  /** Checkpoints whose signature and head verified. */
  checkpoints: number;
  /** The last verified checkpoint: entries 1…count are signed for. */
  lastCheckpoint?: { entry: number; count: number; at: string };
  /** Entries after the last verified checkpoint (chained, not yet signed for). */
  uncovered: number;
  problems: Problem[];
}

interface Row {
  seq: number;
  hash: string;
  e?: Entry;
}

/**
 * Verify a ledger read back in stream order, with the audit public key. Finds, and names by entry
 * number: stream sequence gaps (messages removed from the stream), entries that were modified (the
 * next entry's `prev` no longer matches their hash), removed (a number missing), inserted (a second
 * entry claiming a number, not linked to by its successor) or reordered (a number stored after a
 * higher one), and checkpoints whose signature or signed head does not match the chain — which is
 * what catches a tail rewritten with a consistent chain by someone without the audit key.
 */
export function verifyLedger(stored: StoredEntry[], key: { publicKey: KeyObject; kid: string }): VerifyReport {
  const problems: Problem[] = [];
  const rows: Row[] = stored.map((s) => {
    const row: Row = { seq: s.seq, hash: sha256(s.data) };
    try {
      row.e = decodeEntry(s.data);
    } catch (err) {
      problems.push({ kind: 'malformed', seq: s.seq, message: `stream sequence ${s.seq} is not an audit entry (${(err as Error).message})` });
    }
    return row;
  });
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1]!.seq;
    const b = rows[i]!.seq;
    if (b !== a + 1) problems.push({ kind: 'sequence-gap', seq: b, message: `stream sequences ${a + 1}–${b - 1} are missing (messages removed from the ledger stream)` });
  }

  const valid = rows.filter((r): r is Row & { e: Entry } => r.e !== undefined);
  const byN = new Map<number, (Row & { e: Entry })[]>();
  for (const r of valid) byN.set(r.e.n, [...(byN.get(r.e.n) ?? []), r]);
  const linkedTo = (r: Row & { e: Entry }) => (byN.get(r.e.n + 1) ?? []).some((s) => s.e.prev === r.hash);

  const inserted = new Set<Row>();
  for (const [n, same] of byN) {
    if (same.length < 2) continue;
    const genuine = same.filter(linkedTo);
    const keep = genuine.length === 1 ? genuine[0]! : same[0]!;
    for (const r of same) {
      if (r === keep) continue;
      inserted.add(r);
      problems.push({ kind: 'inserted', entry: n, seq: r.seq, message: `entry ${n} at stream sequence ${r.seq} is inserted: entry ${n} is already at sequence ${keep.seq}${genuine.length === 1 ? ', which the chain links to' : ''}` });
    }
  }
  const chain = valid.filter((r) => !inserted.has(r));
  const genuineOf = new Map(chain.map((r) => [r.e.n, r]));

  let max = 0;
  let maxSeq = 0;
  for (const r of chain) {
    if (r.e.n < max) problems.push({ kind: 'reordered', entry: r.e.n, seq: r.seq, message: `entry ${r.e.n} is stored after entry ${max} (sequence ${r.seq} > ${maxSeq}): entries reordered` });
    else {
      max = r.e.n;
      maxSeq = r.seq;
    }
  }
  const present = new Set(chain.map((r) => r.e.n));
  for (let n = 1; n <= max; n++) {
    if (present.has(n)) continue;
    let to = n;
    while (to + 1 <= max && !present.has(to + 1)) to++;
    const after = genuineOf.get(to + 1);
    problems.push({ kind: 'removed', entry: n, seq: after?.seq ?? 0, message: `${n === to ? `entry ${n} is` : `entries ${n}–${to} are`} missing: removed from the ledger` });
    n = to;
  }

  for (const r of chain) {
    if (r.e.n === 1) {
      if (r.e.prev !== GENESIS) problems.push({ kind: 'hash-mismatch', entry: 1, seq: r.seq, message: 'entry 1 does not start the chain (prev is not the genesis hash)' });
      continue;
    }
    const before = genuineOf.get(r.e.n - 1);
    if (before && r.e.prev !== before.hash) {
      problems.push({ kind: 'hash-mismatch', entry: r.e.n - 1, seq: before.seq, message: `entry ${r.e.n - 1} was modified: its hash no longer matches the prev link of entry ${r.e.n}` });
    }
  }

  let checkpoints = 0;
  let lastCheckpoint: VerifyReport['lastCheckpoint'];
  for (const r of chain) {
    if (r.e.kind !== 'checkpoint') continue;
    const v = verifyCheckpoint(r.e.jws, key.publicKey, key.kid);
    if (!v.ok) {
      problems.push({ kind: 'checkpoint-signature', entry: r.e.n, seq: r.seq, message: `checkpoint entry ${r.e.n}: bad signature (${v.reason})` });
      continue;
    }
    const covered = genuineOf.get(v.claims.count);
    if (v.claims.count !== r.e.n - 1 || !covered || covered.hash !== v.claims.head) {
      problems.push({
        kind: 'checkpoint-head',
        entry: r.e.n,
        seq: r.seq,
        message: `checkpoint entry ${r.e.n} signs entries 1–${v.claims.count} with head ${v.claims.head.slice(0, 12)}…, but ${covered ? `entry ${v.claims.count} hashes to ${covered.hash.slice(0, 12)}…` : `entry ${v.claims.count} is missing`}: entries up to ${v.claims.count} were rewritten`,
      });
      continue;
    }
    checkpoints++;
    lastCheckpoint = { entry: r.e.n, count: v.claims.count, at: v.claims.at };
  }
  const uncovered = Math.max(0, max - (lastCheckpoint?.entry ?? 0));
  problems.sort((a, b) => (a.entry ?? Infinity) - (b.entry ?? Infinity) || a.seq - b.seq);
  return { ok: problems.length === 0, entries: rows.length, checkpoints, lastCheckpoint, uncovered, problems };
}
