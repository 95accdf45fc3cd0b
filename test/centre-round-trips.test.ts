/**
 * Issue 16 item 3: the centre's round trips per message. Every record write, the facts write that marks
 * a message handled, and every create was a nats.js request (a request object, a timer and an error
 * object with a stack each, an inbox reply routed through the request mux); a running centre now writes
 * them as plain publishes acknowledged on one subscription of its inbox (RecordWriter), and only the
 * "handled before?" read of each message is a request. The compare-and-set stays exact on that path:
 * two writers of one record, a stale revision, a record created again after its removal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre } from '../services/centre/index.ts';
import { CorrelationStore, entityHash, type EntityRecord } from '../services/centre/store.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { inboxPrefix } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xb-police', 'xa-coast-guard'];
const N = 12;

const report = (imo: string, summary: string) => ({ summary, vessel: { imoNumber: `IMO ${imo}`, kind: 'fishing vessel' }, location: 'Port Zeta', observedAt: new Date().toISOString() });

/** Count a connection's request round trips to the bucket: writes (JetStream publishes) and direct-get reads (its own method, wrapped: the request still runs). */
function countRequests(client: LiaisonClient, bucket: string): { writes: number; reads: number; on: boolean } {
  const c = { writes: 0, reads: 0, on: false };
  const nc = client.nc as unknown as { request: (subject: string, ...a: unknown[]) => Promise<unknown> };
  const request = nc.request.bind(nc);
  nc.request = (subject: string, ...a: unknown[]) => {
    if (c.on && subject.includes(`.$KV.${bucket}.`)) {
      if (subject.includes('.DIRECT.GET.')) c.reads++;
      else c.writes++;
    }
    return request(subject, ...a);
  };
  return c;
}

describe('the centre writes its records without a request round trip each', () => {
  let fed: TestFederation;
  let bucket: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre-round-trips' });
    const probe = await fed.connect('mac-centre');
    bucket = agencyBuckets(probe.policy, probe.id).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    await probe.close();
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it(`${N} reports of ${N / 2} linked vessels: no write is a request; reads are the "handled before?" of each message and each new value`, async () => {
    const cg = await fed.connect('xa-coast-guard');
    const police = await fed.connect('xb-police');
    for (let i = 0; i < N / 2; i++) {
      await cg.send('IntelligenceReport', report(`90002${i}0`, 'Trawler sighted.'));
      await police.send('IntelligenceReport', report(`90002${i}0`, 'Trawler known from a landing.'));
    }
    const client = await fed.connect('mac-centre');
    const requests = countRequests(client, bucket);
    requests.on = true;
    const centre = await startCentre({ client, reportEveryMs: 0, alertWindowMs: 0, types: ['IntelligenceReport'] });
    try {
      await until(() => centre.stats.processed >= N, 20_000, 'the reports handled');
      requests.on = false;
      // Each report: a record write per vessel, the facts write; every second one links and alerts both agencies.
      expect(centre.stats.alerts).toBeGreaterThanOrEqual(N);
      // Before: every record create/update and facts put was a request too (at least N + N / 2 writes).
      expect(requests.writes).toBe(0);
      expect(requests.reads).toBeLessThanOrEqual(N + N / 2);
      const facts = await centre.store.allFacts();
      expect(facts.filter((f) => f.type === 'IntelligenceReport')).toHaveLength(N);
    } finally {
      await centre.stop();
      await client.close();
    }
  });

  it('compare-and-set by the writer: one of two creates wins, a stale revision is refused, a removed record is created again', async () => {
    const a = await fed.connect('mac-centre');
    const b = await fed.connect('mac-centre');
    const sa = await CorrelationStore.open(a.nc, bucket, { inboxPrefix: inboxPrefix(a.id) });
    const sb = await CorrelationStore.open(b.nc, bucket, { inboxPrefix: inboxPrefix(b.id) });
    const hash = entityHash('imo:IMO 9000999');
    const rec = (summary: string): EntityRecord => ({ kind: 'ENTITY_KIND_VESSEL', namespace: 'imo', reference: `MAC-${summary}`, firstSeen: 1, occurrences: [] });
    const [ra, rb] = await Promise.all([sa.writeEntity(hash, 0, rec('A')), sb.writeEntity(hash, 0, rec('B'))]);
    expect([ra, rb].filter((r) => r !== undefined)).toHaveLength(1);
    const won = (ra ?? rb)!;
    const stored = (await sa.entity(hash))!;
    expect(stored.revision).toBe(won);
    expect(stored.record.reference).toBe(ra !== undefined ? 'MAC-A' : 'MAC-B');
    // An update at the current revision succeeds; one at the revision before it is refused.
    const next = await sa.writeEntity(hash, won, rec('C'));
    expect(next).toBeGreaterThan(won);
    expect(await sb.writeEntity(hash, won, rec('D'))).toBeUndefined();
    expect((await sb.entity(hash))!.record.reference).toBe('MAC-C');
    // Removed (a delete marker is left), then created again.
    expect(await sa.replaceEntity(hash, next!, undefined)).toBe(true);
    expect(await sa.entity(hash)).toBeUndefined();
    const again = await sb.writeEntity(hash, 0, rec('E'));
    expect(again).toBeGreaterThan(next!);
    expect((await sa.entity(hash))!.record.reference).toBe('MAC-E');
    await a.close();
    await b.close();
  });
});
