import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { countQuarantine, foldQuarantine, parseQuarantined, type QuarantineCounts, type QuarantinedCopy, type ReplayMarker } from '../sdk/client/quarantine-entry.ts';
import { QUARANTINE_STREAM, QUARANTINE_SUBJECTS, quarantineSubject } from '../sdk/subjects.ts';
import { createEphemeral, EPHEMERAL_CREATE_TIMEOUT_MS } from '../sdk/jetstream-retry.ts';

/** How long one read of the quarantine waits for a batch before it gives up on the rest. */
const FETCH_EXPIRES_MS = 2_000;

/**
 * Every copy on the quarantine stream — of one agency, or of all — with the replay markers applied, read
 * with an ordered consumer of the exchange administrator's connection `nc` (headers only: the bodies, the
 * original signed envelopes, stay on the stream). Empty when the stream does not exist.
 */
export async function readQuarantine(nc: NatsConnection, agency?: string): Promise<QuarantinedCopy[]> {
  const filter = agency ? quarantineSubject(agency) : QUARANTINE_SUBJECTS[0]!;
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(QUARANTINE_STREAM, { subjects_filter: filter }).catch(() => undefined);
  const total = Object.values(info?.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  // Made again while unanswered: on a cluster with a node down it may be placed on the dead node (services/sdk/jetstream-retry.ts).
  const js = jetstream(nc, { timeout: EPHEMERAL_CREATE_TIMEOUT_MS });
  const consumer = await createEphemeral(() => js.consumers.get(QUARANTINE_STREAM, { filter_subjects: filter, headers_only: true }));
  const items: (QuarantinedCopy | ReplayMarker)[] = [];
  try {
    let seen = 0;
    while (seen < total) {
      const batch = await consumer.fetch({ max_messages: Math.min(1_000, total - seen), expires: FETCH_EXPIRES_MS });
      let got = 0;
      for await (const m of batch) {
        got++;
        const storedAt = new Date(Math.floor(Number(m.info.timestampNanos) / 1_000_000)).toISOString();
        const it = parseQuarantined({ seq: m.seq, subject: m.subject, storedAt, header: (n) => m.headers?.get(n) || undefined });
        if (it) items.push(it);
        if (m.info.pending === 0) seen = total;
      }
      if (got === 0) break;
      seen += got;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return foldQuarantine(items);
}

/** Each agency's quarantine in figures (agencies with nothing quarantined are absent). */
export async function quarantineCounts(nc: NatsConnection): Promise<Record<string, QuarantineCounts>> {
  const byAgency = new Map<string, QuarantinedCopy[]>();
  for (const c of await readQuarantine(nc)) byAgency.set(c.agency, [...(byAgency.get(c.agency) ?? []), c]);
  return Object.fromEntries([...byAgency.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([a, cs]) => [a, countQuarantine(cs)]));
}
