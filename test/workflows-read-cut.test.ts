/**
 * The case registry's reads that went around the ReadGate, across a connection cut (issue 16): the case store's
 * whole-bucket scan (`allCases`: queries listing every case, retraction look-ups once a case left memory) and the case
 * watch's re-read of a changed case. The store's connection runs through a TCP link (test/support/cut-link.ts) cut right
 * after one of its direct gets is published (its answer dropped) and refusing reconnects a while.
 * - A scan awaiting an answer at the cut fails with the connection ("connection lost"), at once and whole: never a
 *   partial listing, never nats.js's 5 s timeout; a scan asked for while the connection is down lists every case once
 *   it is back.
 * - A re-read of a case another writer changed, cut in flight, is read again at the reconnect: the change reaches
 *   memory (it was lost before: the re-read waited out its timeout, was logged and dropped, memory left behind).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { inboxPrefix } from '../services/sdk/subjects.ts';
import type { CaseRecord } from '../services/workflows/model.ts';
import { CaseStore } from '../services/workflows/store.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { connectThroughCut, cutAround } from './support/cut-service.ts';
import { until, workflowPolicyText } from './support/workflows.ts';

const REGISTRY = 'mac-cases';
const CASES = 6;

const rec = (ref: string, note: string) => ({ ref, note, outbox: [], deadlines: [] }) as unknown as CaseRecord;
const bucketOf = (client: LiaisonClient) => agencyBuckets(client.policy, REGISTRY).find((b) => b.kind === 'kv' && b.name === 'cases')!.bucket;
const isDirectGet = (subject: string) => subject.includes('DIRECT.GET');

/** What a test of the watch works with: the store watched through the cut link, another replica's store on a connection of its own. */
interface Replicas {
  through: Awaited<ReturnType<typeof connectThroughCut>>;
  watched: CaseStore;
  writer: CaseStore;
}

/** Run `body` with the two replicas' stores of `fed`'s case registry; everything it opened is stopped after. */
async function withReplicas(fed: TestFederation, body: (r: Replicas) => Promise<void>): Promise<void> {
  const through = await connectThroughCut(fed, REGISTRY);
  const { client, link } = through;
  const watched = await CaseStore.open(client.nc, bucketOf(client), { inboxPrefix: inboxPrefix(client.id) });
  // Another replica of the registry, on a connection of its own (not through the link).
  const other = await fed.connect(REGISTRY);
  const writer = await CaseStore.open(other.nc, bucketOf(other), { inboxPrefix: inboxPrefix(other.id) });
  try {
    await body({ through, watched, writer });
  } finally {
    watched.stop();
    writer.stop();
    await other.close();
    await client.close();
    await link.stop();
  }
}

describe('the case registry reads across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [REGISTRY], name: 'wf-read-cut', policyText: await workflowPolicyText() });
  }, 60_000);
  afterAll(async () => fed?.stop());

  it('a scan of the bucket cut part-way fails whole with the connection; one asked for while down lists every case at the reconnect', async () => {
    const through = await connectThroughCut(fed, REGISTRY);
    const { client, link } = through;
    // No case kept in memory besides those the tick needs: every listing is a scan of the bucket.
    const store = await CaseStore.open(client.nc, bucketOf(client), { inboxPrefix: inboxPrefix(client.id), cacheCases: 0 });
    try {
      const keys = Array.from({ length: CASES }, (_, i) => `training.scan.c${i}`);
      for (const k of keys) {
        const revision = await store.create(k, rec(k, 'stored'));
        expect(revision).toBeGreaterThan(0);
        store.remember(k, { record: rec(k, 'stored'), revision: revision! });
      }
      expect(store.complete, 'cases left memory: a listing scans the bucket').toBe(false);
      const mine = (cases: { record: CaseRecord }[]) => cases.map((c) => c.record.ref).filter((r) => r.startsWith('training.scan.')).sort();
      expect(mine(await store.allCases())).toEqual(keys);
      // Cut right after the scan's third direct get is published: its answer dropped, the scan part-way.
      const { cut, held, cutAt, failedAt } = await cutAround(
        { link, nc: client.nc },
        isDirectGet,
        () => store.allCases().then(mine),
        () => store.allCases().then(mine),
        3,
      );
      console.info(`[workflows-read-cut] scan: cut ${JSON.stringify(cut)} ${failedAt - cutAt} ms after the cut, held ${JSON.stringify(held)}`);
      expect(cut, 'the scan awaiting an answer at the cut failed whole with the connection, not by a timeout').toEqual({ code: 'ERR_STATE_READ', message: expect.stringMatching(/^connection lost .*read of the case bucket/) });
      expect(held, 'the scan asked for while down listed every case at the reconnect').toEqual({ ok: keys });
    } finally {
      store.stop();
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('a changed case whose re-read the cut lost is read again at the reconnect: the change reaches memory', async () => {
    await withReplicas(fed, async ({ through, watched, writer }) => {
      const { client, link, logger, failures } = through;
      await watched.watch(logger);
      const key = 'training.watch.c1';
      const first = (await writer.create(key, rec(key, 'first')))!;
      await until(() => watched.cached(key)?.revision === first, 20_000, 'the new case re-read by the watch');
      const rereads = watched.watchStats.rereads;
      // The next change's re-read (a direct get) is cut in flight; the watched store is told of it only by the notice.
      let changed = 0;
      const { cut, held } = await cutAround(
        { link, nc: client.nc },
        isDirectGet,
        async () => {
          changed = (await writer.update(key, rec(key, 'changed'), first))!;
          return changed;
        },
        async () => undefined,
      );
      expect(cut, 'the other replica changed the case').toEqual({ ok: expect.any(Number) });
      expect(held).toEqual({ ok: undefined });
      expect(watched.watchStats.rereads, 'the watch re-read the change').toBeGreaterThan(rereads);
      await until(() => watched.cached(key)?.revision === changed, 30_000, 'the change re-read at the reconnect');
      expect(watched.cached(key)?.record).toEqual(rec(key, 'changed'));
      console.info(`[workflows-read-cut] watch: re-read again at the reconnect; failures logged: ${JSON.stringify(failures)}`);
      expect(failures.filter((f) => /timeout/i.test(f)), 'no re-read waited out nats.js\'s timeout').toEqual([]);
    });
  }, 120_000);

  it('the watch\'s first load of every case cut part-way is loaded again at the reconnect, not failed by a timeout', async () => {
    await withReplicas(fed, async ({ through, watched, writer }) => {
      const { client, link, logger, failures } = through;
      const keys = Array.from({ length: CASES }, (_, i) => `training.load.c${i}`);
      for (const k of keys) expect(await writer.create(k, rec(k, 'stored'))).toBeGreaterThan(0);
      const loaded = () => keys.filter((k) => watched.cached(k)).length;
      const { cut } = await cutAround(
        { link, nc: client.nc },
        isDirectGet,
        () => watched.watch(logger).then(loaded),
        async () => undefined,
        3,
      );
      expect(cut, 'the watch started once the connection was back, every case loaded').toEqual({ ok: CASES });
      expect(failures, 'nothing failed').toEqual([]);
    });
  }, 120_000);

  it('changes made while the connection is down (their notices lost with it) reach memory at the reconnect, and a listing holds them', async () => {
    await withReplicas(fed, async ({ through, watched, writer }) => {
      const { client, link, logger, failures } = through;
      await watched.watch(logger);
      const old = 'training.down.c1';
      const created = 'training.down.c2';
      const first = (await writer.create(old, rec(old, 'first')))!;
      await until(() => watched.cached(old)?.revision === first, 20_000, 'the case re-read by the watch');
      // Down: the next bytes the exchange sends are dropped with the connection, and reconnects refused a while.
      const refusedBefore = link.refused();
      link.refuse(true);
      link.armCut(1);
      client.nc.flush().catch(() => undefined);
      expect(await Promise.race([link.cut, new Promise((r) => setTimeout(() => r(0), 30_000))]), 'the connection was cut').toBeGreaterThan(0);
      // Meanwhile another replica changes one case and opens another: their notices find the watched store away.
      const changed = (await writer.update(old, rec(old, 'changed while down'), first))!;
      const opened = (await writer.create(created, rec(created, 'opened while down')))!;
      await until(() => link.refused() >= refusedBefore + 3, 20_000, 'reconnects refused while the other replica writes');
      link.refuse(false);
      await until(() => watched.cached(old)?.revision === changed && watched.cached(created)?.revision === opened, 30_000, 'the changes made while down reached memory');
      expect(watched.complete, 'memory holds every case: a listing answers from it').toBe(true);
      const listed = (await watched.allCases()).map((c) => c.record.ref).filter((r) => r.startsWith('training.down.')).sort();
      expect(listed, 'the listing holds the case opened while down').toEqual([old, created]);
      expect(failures, 'nothing failed').toEqual([]);
    });
  }, 120_000);
});
