/**
 * The centre's batched record writes (issue 13): changes to one value that arrive while a write of it
 * is in flight go out together in one compare-and-set write; nothing is resolved before it is durable;
 * a stale cached record (another replica wrote) costs a conflict, never a lost change; and two messages
 * on one value in one batch get the alerts each would have got alone; a change asked for later (replaced alerts coming
 * off a record) rides with the value's next write instead of a write of its own (issue 16).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { correlateEntity, type CorrelateContext } from '../services/centre/correlate.ts';
import { extractEntities } from '../services/centre/entities.ts';
import { EntityWriter, LATER_MS } from '../services/centre/entity-writer.ts';
import { CorrelationStore, entityHash, type EntityRecord, type Occurrence } from '../services/centre/store.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { silentLogger } from '../services/sdk/logging.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const AGENCIES = ['mac-centre', 'xb-police', 'xa-coast-guard'];

/** An occurrence of a (made-up) message `id` of `agency`, for record-level tests. */
const occurrence = (agency: string, id: string): Occurrence => ({
  messageId: id,
  type: 'IntelligenceReport',
  agency,
  recipient: 'all',
  caseRef: '',
  sentAt: new Date().toISOString(),
  field: 'vessel.imoNumber',
  fieldTier: 'operational',
  handling: 'H1',
  tlp: 'GREEN',
  context: [],
});

/** The change that appends `occ` to a record (created when there is none). */
const append =
  (occ: Occurrence) =>
  (cur: EntityRecord | undefined): EntityRecord => {
    const base = cur ?? { kind: 'ENTITY_KIND_VESSEL', namespace: 'imo', reference: 'MAC-TEST', firstSeen: 0, occurrences: [] };
    return { ...base, occurrences: [...base.occurrences, occ] };
  };

describe('the centre batches its record writes without losing or reordering a change', () => {
  let fed: TestFederation;
  let centre: LiaisonClient;
  let bucket: string;
  /** A store on a connection of its own: nothing it reads comes from another store's cache. */
  const freshStore = async () => CorrelationStore.open((await fed.connect('mac-centre')).nc, bucket);

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: AGENCIES, name: 'centre-batching' });
    centre = await fed.connect('mac-centre');
    bucket = agencyBuckets(centre.policy, centre.id).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('changes to one value that arrive during a write are all recorded, by one further write, in the order asked', async () => {
    const writer = new EntityWriter(await CorrelationStore.open(centre.nc, bucket));
    const hash = entityHash('imo:9000001');
    const ids = ['m1', 'm2', 'm3', 'm4'];
    const written = await Promise.all(ids.map((id) => writer.update(hash, append(occurrence('xb-police', id)))));
    // m1 went alone; m2–m4 waited for it and went together.
    expect(writer.stats).toEqual({ writes: 2, changes: 4, conflicts: 0 });
    const stored = await (await freshStore()).entity(hash);
    expect(stored!.record.occurrences.map((o) => o.messageId)).toEqual(ids);
    // Every caller of the second batch resolves with the record its write made, its own change in it.
    for (const w of written.slice(1)) expect(w!.revision).toBe(stored!.revision);
    expect(written[0]!.record.occurrences.map((o) => o.messageId)).toEqual(['m1']);
  });

  it('resolves a caller only once the write carrying its change is durable: a fresh reader sees it at once', async () => {
    const writer = new EntityWriter(await CorrelationStore.open(centre.nc, bucket));
    const reader = await freshStore();
    const hash = entityHash('imo:9000002');
    for (const id of ['d1', 'd2', 'd3']) {
      await writer.update(hash, append(occurrence('xb-police', id)));
      const seen = (await reader.entity(hash))!.record.occurrences.map((o) => o.messageId);
      expect(seen).toContain(id);
    }
  });

  it('a replica whose cached record is stale conflicts, reads again and re-applies its change: no change is lost', async () => {
    const a = new EntityWriter(await CorrelationStore.open(centre.nc, bucket));
    const b = new EntityWriter(await freshStore());
    const hash = entityHash('imo:9000003');
    await a.update(hash, append(occurrence('xb-police', 'r1')));
    await b.update(hash, append(occurrence('xa-coast-guard', 'r2'))); // b reads r1, writes r1 r2
    await a.update(hash, append(occurrence('xb-police', 'r3'))); // a's cache holds r1 only: conflict
    await b.update(hash, append(occurrence('xa-coast-guard', 'r4'))); // b's cache misses r3: conflict
    expect(a.stats.conflicts).toBe(1);
    expect(b.stats.conflicts).toBe(1);
    const stored = await (await freshStore()).entity(hash);
    expect(stored!.record.occurrences.map((o) => o.messageId)).toEqual(['r1', 'r2', 'r3', 'r4']);
  });

  it('a change asked for later (replaced alerts coming off) goes with the value\'s next write, not one of its own; alone once none comes; hurry writes it now', async () => {
    const writer = new EntityWriter(await CorrelationStore.open(centre.nc, bucket));
    const [hash, quiet] = [entityHash('imo:9000005'), entityHash('imo:9000006')];
    await writer.update(hash, append(occurrence('xb-police', 'l1')));
    await writer.update(quiet, append(occurrence('xb-police', 'q1')));
    expect(writer.stats.writes).toBe(2);
    // Asked for later: no write yet, and its caller waits.
    const later = writer.update(hash, append(occurrence('xb-police', 'l2')), { later: true });
    let resolved = false;
    void later.then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(resolved, 'a later change waits for the value\'s next write').toBe(false);
    expect(writer.stats.writes).toBe(2);
    // The value's next write carries it, ahead of the change that took it along: one write for both.
    await writer.update(hash, append(occurrence('xb-police', 'l3')));
    expect((await later)!.record.occurrences.map((o) => o.messageId)).toEqual(['l1', 'l2', 'l3']);
    expect(writer.stats).toEqual({ writes: 3, changes: 4, conflicts: 0 });
    // hurry: written now, alone.
    const hurried = writer.update(hash, append(occurrence('xb-police', 'l4')), { later: true });
    writer.hurry();
    expect((await hurried)!.record.occurrences.map((o) => o.messageId)).toEqual(['l1', 'l2', 'l3', 'l4']);
    expect(writer.stats.writes).toBe(4);
    // No further write of the value comes: written alone after LATER_MS, not kept.
    const started = Date.now();
    const alone = await writer.update(quiet, append(occurrence('xb-police', 'q2')), { later: true });
    expect(Date.now() - started, 'written once LATER_MS had passed').toBeGreaterThanOrEqual(LATER_MS - 50);
    expect(alone!.record.occurrences.map((o) => o.messageId)).toEqual(['q1', 'q2']);
    expect((await (await freshStore()).entity(quiet))!.record.occurrences.map((o) => o.messageId)).toEqual(['q1', 'q2']);
    expect(writer.stats).toEqual({ writes: 5, changes: 6, conflicts: 0 });
  });

  it('two messages on one value in one batch: only the one that made the link alerts, as if each came alone', async () => {
    // Two real reports of one vessel, from two agencies, received by the centre's agency.
    const got: ReceivedMessage[] = [];
    const receiver = await fed.connect('mac-centre');
    await receiver.consume((m) => void got.push(m), { types: ['IntelligenceReport'] });
    const vessel = { summary: 'Vessel sighted.', vessel: { imoNumber: 'IMO 9000004', kind: 'fishing vessel' }, location: 'Port Zeta' };
    const first = await (await fed.connect('xa-coast-guard')).send('IntelligenceReport', vessel);
    const second = await (await fed.connect('xb-police')).send('IntelligenceReport', vessel);
    await until(() => got.length >= 2, 8_000, 'both reports at the centre');
    const [m1, m2] = [first.id, second.id].map((id) => got.find((m) => m.header.id === id)!);

    const store = await CorrelationStore.open(centre.nc, bucket);
    const writer = new EntityWriter(store);
    const stats = { occurrences: 0, alerts: 0, withheld: 0, undeliverable: 0 };
    const ctx: CorrelateContext = { client: centre, writer, logger: silentLogger(), stats, now: () => Date.now() };
    const entityOf = (m: ReceivedMessage) => extractEntities(centre.catalog.get(m.type), m.body).entities.find((e) => e.key === 'imo:9000004')!;
    const base = (m: ReceivedMessage) => ({ messageId: m.header.id, type: m.type, agency: m.header.sender, recipient: m.header.recipient, caseRef: m.header.caseRef, sentAt: m.header.createdAt.toISOString(), handling: m.header.handling, tlp: m.header.tlp, context: [] });
    const hash = entityHash('imo:9000004');
    // A change in flight first, so both messages' changes wait and go out in one batch.
    const inFlight = writer.update(hash, (cur) => cur);
    await Promise.all([inFlight, correlateEntity(ctx, m1!, entityOf(m1!), hash, base(m1!)), correlateEntity(ctx, m2!, entityOf(m2!), hash, base(m2!))]);

    expect(writer.stats.writes).toBe(1);
    expect(stats.occurrences).toBe(2);
    const record = (await (await freshStore()).entity(hash))!.record;
    expect(record.occurrences.map((o) => o.messageId)).toEqual([first.id, second.id]);
    // The first report alone was no link: only the second, which made it, alerts both agencies.
    expect(stats.alerts).toBe(2);
    expect(record.alerts!.map((a) => [a.to, a.trigger]).sort()).toEqual([
      ['xa-coast-guard', second.id],
      ['xb-police', second.id],
    ]);
  });
});
