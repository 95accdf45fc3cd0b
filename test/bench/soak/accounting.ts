import { expectedClientRecipients } from './clients.ts';
import { keyOf, type AgencyResult } from './plan.ts';

/** The agency clients' books: what was sent and acknowledged, and what each expected recipient's handler saw. */
export interface ClientAccount {
  sent: Record<string, number>;
  /** Sends the exchange did not acknowledge (e.g. a publish timeout under overload), and how many of them were delivered all the same. */
  sendFailed: number;
  sendFailedByType: Record<string, number>;
  sendFailedDelivered: number;
  /** Copies that should have reached an agency client's handler. */
  expectedCopies: number;
  /** Expected copies no handler saw (lost, or still waiting in JetStream when the clients stopped: see `backlog`). */
  missing: number;
  /** The agency clients' backlog of the tracked types once they stopped (pending + unacknowledged). */
  backlog: number;
  /** Not handled but put on the recipient's quarantine (dead letter, in doubt), by refusal code: replayable, not lost. */
  quarantined: Record<string, number>;
  /** Missing beyond what their backlog still holds and their quarantine keeps: lost. */
  lost: number;
  /** Expected copies handled more than once (each extra handling counted). */
  twice: number;
  /** Copies handled by an agency the policy does not send them to, or of no message sent. */
  unexpected: number;
  missingExamples: string[];
  unexpectedExamples: string[];
}

/** Count, per (sender, id), each expected recipient's handlings. */
export function accountClients(results: readonly AgencyResult[], backlog = 0, quarantined: ReadonlyMap<string, string> = new Map()): ClientAccount {
  const byId = new Map(results.map((r) => [r.id, r]));
  const a: ClientAccount = { sent: {}, sendFailed: 0, sendFailedByType: {}, sendFailedDelivered: 0, expectedCopies: 0, missing: 0, backlog, quarantined: {}, lost: 0, twice: 0, unexpected: 0, missingExamples: [], unexpectedExamples: [] };
  let inQuarantine = 0;
  const expectedKeys = new Map<string, Set<string>>(); // recipient → keys
  const unacked = new Set<string>();
  for (const r of results) {
    for (const s of r.sent) {
      if (!s.acked) {
        a.sendFailed++;
        a.sendFailedByType[s.type] = (a.sendFailedByType[s.type] ?? 0) + 1;
        unacked.add(keyOf(r.id, s.id));
        continue;
      }
      a.sent[s.type] = (a.sent[s.type] ?? 0) + 1;
      const key = keyOf(r.id, s.id);
      for (const to of expectedClientRecipients(s.type, r.id)) {
        a.expectedCopies++;
        if (!expectedKeys.has(to)) expectedKeys.set(to, new Set());
        expectedKeys.get(to)!.add(key);
        const n = byId.get(to)?.received[key] ?? 0;
        const code = n === 0 ? quarantined.get(`${to} ${key}`) : undefined;
        if (n === 0 && code) {
          a.missing++;
          inQuarantine++;
          a.quarantined[code] = (a.quarantined[code] ?? 0) + 1;
        } else if (n === 0) {
          a.missing++;
          if (a.missingExamples.length < 5) a.missingExamples.push(`${s.type} ${key} → ${to}`);
        } else if (n > 1) a.twice += n - 1;
      }
    }
  }
  const deliveredUnacked = new Set<string>();
  for (const r of results) {
    const mine = expectedKeys.get(r.id) ?? new Set<string>();
    for (const key of Object.keys(r.received)) {
      if (mine.has(key)) continue;
      // A send that timed out but was stored: delivered all the same (counted apart, not as a leak).
      if (unacked.has(key)) {
        deliveredUnacked.add(key);
        continue;
      }
      a.unexpected++;
      if (a.unexpectedExamples.length < 5) a.unexpectedExamples.push(`${r.receivedTypes[key] ?? '?'} ${key} at ${r.id}`);
    }
  }
  a.sendFailedDelivered = deliveredUnacked.size;
  a.lost = Math.max(0, a.missing - inQuarantine - backlog);
  return a;
}

/** A service's own count of what it handled (from its stop line), against what was offered to it. */
export interface ServiceAccount {
  service: string;
  what: string;
  offered: number;
  handled: number;
  /** Its consumers' backlog (pending + unacknowledged) when it was stopped. */
  backlog: number;
  /** Offered, not handled, not in the backlog: lost. */
  lost: number;
  /** Handled beyond what was offered. */
  extra: number;
}

/** One service's account: lost = offered − handled − backlog (never below 0); extra = handled − offered. */
export function accountService(service: string, what: string, offered: number, handled: number | undefined, backlog: number): ServiceAccount {
  const h = handled ?? NaN;
  return { service, what, offered, handled: h, backlog, lost: Math.max(0, offered - h - backlog), extra: Math.max(0, h - offered) };
}

/** The stats JSON at the end of a service's stop line (`registry stopped (…): {…}`, `centre stopped: {…}`). */
export function stopStats(output: string, marker: RegExp): Record<string, number> | undefined {
  const line = output.split('\n').find((l) => marker.test(l));
  const json = line?.slice(line.indexOf('{'));
  try {
    return json ? (JSON.parse(json) as Record<string, number>) : undefined;
  } catch {
    return undefined;
  }
}
