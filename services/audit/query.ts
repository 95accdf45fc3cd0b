import type { CopyEntry, Entry, QuarantineEntry, QueriesMissedEntry, QueryEntry } from './entry.ts';
import { bridgeRefusals, refusedAcross } from './explain.ts';
import { shortType } from './facts.ts';

/** Oversight question: entries concerning an agency, since a time, of a type. */
export interface LedgerQuery {
  agency?: string;
  since?: Date;
  /** Short (`DocumentReport`) or full (`liaison.v1.DocumentReport`) type name. */
  type?: string;
}

/** The entries an answer returns: copies, refusals, requests, and requests seen but not recorded. */
export type Answered = CopyEntry | QuarantineEntry | QueryEntry | QueriesMissedEntry;

/** How the asked-about agency figures in an entry. */
export type Role = 'sent' | 'addressed' | 'delivered' | 'refused' | 'refused-from' | 'asked' | 'served';

/** One answer row. */
export interface QueryRow {
  entry: Answered;
  /** The agency's roles in it (empty without an agency filter). */
  roles: Role[];
  /** For copies: the recipients whose consumer acknowledged it (from receipt entries). */
  acked?: string[];
  /** For a copy sent across a bridge: the bridge terminated it, the peer's broker having refused it. */
  refusedAcross?: boolean;
}

/**
 * Answer "who saw what, when" from ledger entries: copies sent by the agency, addressed to it or
 * delivered to it under the policy (with whether its consumer acknowledged them), copies it refused
 * or that were refused from it, requests it made or served, and the counts of its requests the audit saw but did not
 * record (`queries-missed`: its queue was full). Receipts, checkpoints, start and gap entries are bookkeeping and are
 * not returned.
 */
export function queryLedger(entries: Entry[], q: LedgerQuery): QueryRow[] {
  const floors = new Map<string, number>();
  for (const e of entries) {
    if (e.kind !== 'receipt') continue;
    for (const a of e.acks) {
      for (const key of [`${a.stream}/${a.consumer.split('__').slice(0, 2).join('__')}`, `${a.stream}//${a.consumer}`]) floors.set(key, Math.max(floors.get(key) ?? 0, a.ackFloor));
    }
  }
  const refusals = bridgeRefusals(entries);
  const type = q.type ? shortType(q.type) : undefined;
  const since = q.since?.getTime();
  const out: QueryRow[] = [];
  for (const e of entries) {
    if (e.kind !== 'copy' && e.kind !== 'quarantine' && e.kind !== 'query' && e.kind !== 'queries-missed') continue;
    if (since !== undefined && Date.parse(e.kind === 'queries-missed' ? e.to : e.at) < since) continue;
    if (type !== undefined && (e.kind === 'queries-missed' ? !e.missed.some((m) => m.service.split('.')[1] === type) : e.type !== type)) continue;
    const roles = q.agency ? rolesOf(e, q.agency) : [];
    if (q.agency && roles.length === 0) continue;
    const row: QueryRow = { entry: e, roles };
    if (e.kind === 'copy') {
      const refused = refusedAcross(e, refusals) !== undefined;
      row.acked = e.deliverTo.filter((a) => (floors.get(floorKey(e, a)) ?? 0) >= e.seq && !(refused && a === e.recipient));
      if (refused) row.refusedAcross = true;
    }
    out.push(row);
  }
  return out;
}

/** Where copy `e`'s acknowledgement by `agency` is read: its consumer of the type; across a bridge, the export consumer (acked once the peer stored it). */
function floorKey(e: CopyEntry, agency: string): string {
  return e.cross?.via && e.cross.direction === 'outbound' && agency === e.recipient ? `${e.stream}//${e.cross.via}` : `${e.stream}/${agency}__${e.type}`;
}

/** The agreement a cross copy crossed under, or why none admitted it. */
export function crossNote(c: CopyEntry['cross']): string {
  if (!c) return '';
  const way = c.direction === 'outbound' ? `to ${c.peer}` : `from ${c.peer}`;
  return c.agreement ? `; across agreement ${c.agreement} ${c.flow ?? ''} (${way})` : `; ${c.direction} ${way} NOT ADMITTED by any applied agreement: ${c.refused ?? '?'}`;
}

function rolesOf(e: Answered, agency: string): Role[] {
  const r: Role[] = [];
  if (e.kind === 'copy') {
    if (e.sender === agency) r.push('sent');
    if (e.recipient === agency) r.push('addressed');
    if (e.deliverTo.includes(agency)) r.push('delivered');
  } else if (e.kind === 'quarantine') {
    if (e.by === agency) r.push('refused');
    if (e.claimedSender === agency) r.push('refused-from');
  } else if (e.kind === 'queries-missed') {
    if (e.missed.some((m) => m.requester === agency)) r.push('asked');
  } else {
    if (e.requester === agency) r.push('asked');
    if (e.server === agency) r.push('served');
  }
  return r;
}

/** One human-readable line for a row. */
export function formatRow(row: QueryRow): string {
  const e = row.entry;
  const who = row.roles.length ? `[${row.roles.join(',')}] ` : '';
  const short = (d: string) => `sha256:${d.slice(0, 16)}…`;
  if (e.kind === 'copy') {
    const to = e.deliverTo.map((a) => (row.acked?.includes(a) ? `${a}✓` : a)).join(' ');
    return `#${e.n} ${e.at} ${who}${e.type} ${e.tier} ${e.sender} → ${e.recipient} id ${e.id ?? '?'} ${e.stream}#${e.seq} ${short(e.digest)} ${e.size} B; delivered to: ${to || '(nobody)'}${crossNote(e.cross)}${row.refusedAcross ? ` — REFUSED by ${e.cross?.peer ?? 'the peer'}'s broker (the bridge terminated it)` : ''}`;
  }
  if (e.kind === 'quarantine') {
    return `#${e.n} ${e.at} ${who}REFUSED by ${e.by}: ${e.code} ${e.type ?? '?'} from ${e.claimedSender ?? '?'} id ${e.id ?? '?'} (${e.originalSubject ?? e.subject}) ${short(e.digest)} — ${e.reason}`;
  }
  if (e.kind === 'queries-missed') {
    const by = e.missed.map((m) => `${m.requester} ${m.service} ×${m.count}`).join(', ');
    return `#${e.n} ${e.at} ${who}REQUESTS NOT RECORDED: ${e.count} seen ${e.from} – ${e.to} (${e.reasons.join(', ')}; the audit's request queue was full): ${by}`;
  }
  const trust = e.unverified ? ` UNVERIFIED (${e.unverified})` : '';
  const disagree = e.mismatch?.length ? ` [${e.mismatch.map((m) => (m === 'reply' ? 'reply subject outside the requester’s inbox (dropped)' : `${m} disagrees with the signed header`)).join('; ')}]` : '';
  return `#${e.n} ${e.at} ${who}QUERY ${e.service} by ${e.requester ?? '?'}${trust}${e.server ? ` to ${e.server}` : ''} id ${e.id ?? '?'} ${short(e.digest)} ${e.size} B${disagree}`;
}
