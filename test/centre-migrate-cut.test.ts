/**
 * The centre's start-up facts migration across a connection cut (issue 16): `migrateCentreFacts` scans the correlation
 * bucket for facts still under their old key (`facts.<id>`) one direct get at a time, then moves each (a create, a
 * delete). The centre's connection runs through a TCP link (test/support/cut-link.ts) cut right after the nth request
 * of the migration (its answer dropped), reconnects refused a while. The start must succeed: the request whose answer
 * was lost is made again at the reconnect (the centre's ReadGate), never left to fail the start after nats.js's
 * timeout; and every old entry ends at its (sender, id) key, none left at the old one.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageFacts } from '../services/centre/facts.ts';
import { startCentre, type Centre } from '../services/centre/index.ts';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { KvReader } from '../services/sdk/state/kv-reader.ts';
import { armAfterPublish, connectThroughCut, outcome } from './support/cut-service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const CENTRE = 'mac-centre';
const SENDERS = ['xa-border-police', 'xb-police', 'xa-coast-guard'];
/** Old-format facts per test: the scan is that many direct gets, the moves twice that many writes; the cut lands part-way. */
const OLD = 24;

const facts = (agency: string, messageId: string): MessageFacts => ({
  messageId,
  type: 'IntelligenceReport',
  agency,
  at: Date.now(),
  routes: [],
  nationalities: [],
  documentTypes: [],
  modusOperandi: [],
  migrants: 0,
  children: 0,
  entities: 0,
});

describe('the centre\'s start-up facts migration across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  let seeder: LiaisonClient;
  let bucket: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [CENTRE], name: 'centre-migrate-cut' });
    seeder = await fed.connect(CENTRE);
    bucket = agencyBuckets(seeder.policy, CENTRE).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
  }, 60_000);
  afterAll(async () => {
    await seeder?.close();
    await fed?.stop();
  });

  /** Write `OLD` facts under their old key `facts.<id>` (as the pre-(sender, id) centre did); their (sender, id). */
  async function seedOldFacts(series: number): Promise<MessageFacts[]> {
    const kv = await new Kvm(agencyJetStream(seeder.nc)).open(bucket, { allow_direct: true });
    const seeded: MessageFacts[] = [];
    for (let i = 0; i < OLD; i++) {
      const f = facts(SENDERS[i % SENDERS.length]!, `0190f0a0-0000-7000-8${series}00-${String(i).padStart(12, '0')}`);
      await kv.put(`facts.${f.messageId}`, new TextEncoder().encode(JSON.stringify(f)));
      seeded.push(f);
    }
    return seeded;
  }

  /** Which seeded facts sit where now: at their (sender, id) key, and still at their old key. */
  async function whereNow(seeded: MessageFacts[]): Promise<{ moved: number; old: number }> {
    const reader = await KvReader.open(seeder.nc, bucket);
    let moved = 0;
    let old = 0;
    for (const f of seeded) {
      if (await reader.get(`facts.${f.agency}.${f.messageId}`)) moved++;
      if (await reader.get(`facts.${f.messageId}`)) old++;
    }
    return { moved, old };
  }

  /**
   * Start the centre through a cut link cut right after its `nth` publish `matches` accepts, reconnects refused until
   * three were; how the start ended, and how long after the reconnects were let through.
   */
  async function startAcrossCut(matches: (subject: string) => boolean, nth: number): Promise<{ start: 'started' | { code: string; message: string }; afterReconnectMs: number }> {
    const { client, link, logger, failures } = await connectThroughCut(fed, CENTRE);
    let centre: Centre | undefined;
    try {
      const refusedBefore = link.refused();
      link.refuse(true);
      armAfterPublish(client.nc, matches, nth, () => link.armCut(1));
      let endedAt = 0;
      const start = outcome(startCentre({ client, reportEveryMs: 0, logger })).finally(() => (endedAt = Date.now()));
      const cutAt = await Promise.race([link.cut.then(() => Date.now()), new Promise<number>((r) => setTimeout(() => r(0), 30_000))]);
      expect(cutAt, 'the connection was cut part-way through the migration').toBeGreaterThan(0);
      await until(() => link.refused() >= refusedBefore + 3, 20_000, 'three reconnects refused');
      link.refuse(false);
      const letThroughAt = Date.now();
      await until(() => endedAt > 0, 60_000, 'the start to end');
      const r = await start;
      if ('ok' in r) centre = r.ok;
      console.info(`[centre-migrate-cut] start ${'ok' in r ? 'succeeded' : JSON.stringify(r)} ${endedAt - letThroughAt} ms after reconnects were let through; logged failures: ${failures.length}`);
      return { start: 'ok' in r ? 'started' : r, afterReconnectMs: endedAt - letThroughAt };
    } finally {
      await centre?.stop();
      await client.close();
      await link.stop();
    }
  }

  it('a cut part-way through the scan of old facts: the start succeeds once reconnected, every old entry moved', async () => {
    const seeded = await seedOldFacts(1);
    // Direct gets of the bucket's stream: the migration's scan is the start's first reader of the bucket.
    const { start } = await startAcrossCut((subject) => subject.includes(`DIRECT.GET.KV_${bucket}`), 8);
    expect(start, 'the centre started across the cut (the lost direct get made again at the reconnect)').toBe('started');
    expect(await whereNow(seeded), 'every old facts entry at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut part-way through the moves (creates and deletes): the start succeeds once reconnected, every old entry moved', async () => {
    const seeded = await seedOldFacts(2);
    // Writes to the facts keys: the creates at (sender, id) and the deletes of the old keys, interleaved.
    const { start } = await startAcrossCut((subject) => subject.includes(`$KV.${bucket}.facts.`), 7);
    expect(start, 'the centre started across the cut (the lost write made again at the reconnect)').toBe('started');
    expect(await whereNow(seeded), 'every old facts entry at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);
});
