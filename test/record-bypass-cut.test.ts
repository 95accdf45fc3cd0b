/**
 * The record writes that went around RecordWriter, across a connection cut (issue 16): the case registry's alias
 * write (`setAlias`, a plain put) and the centre's record delete (`replaceEntity` with no record left, a
 * compare-and-set on the revision). The store's connection runs through a TCP link (test/support/cut-link.ts) cut
 * right after such a write is published (its acknowledgement dropped) and refusing reconnects a while. The pending
 * write fails with the connection ("connection lost"), not by a timeout; one asked for while the connection is down
 * is sent once it is back; the outcome is there exactly once (the delete stored without its acknowledgement is not
 * done twice: a retry at the old revision conflicts). The create that finds a removal marker (its fallback write over
 * the marker) and the stores' reads of a key follow the connection the same way.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorrelationStore, entityHash, type EntityRecord } from '../services/centre/store.ts';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { inboxPrefix } from '../services/sdk/subjects.ts';
import type { CaseRecord } from '../services/workflows/model.ts';
import { CaseStore } from '../services/workflows/store.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { connectThroughCut, cutAround, type ClientThroughCut } from './support/cut-service.ts';
import { workflowPolicyText } from './support/workflows.ts';

const REGISTRY = 'mac-cases';
const CENTRE = 'mac-centre';

/**
 * A create over a removal marker cut right after its second write: stored (nats.js may still send a write buffered at
 * the cut once reconnected) or failed with the connection, never by a timeout.
 */
function expectNoTimeout(cut: { ok: unknown } | { code: string; message: string }, lost: RegExp): void {
  if ('ok' in cut) expect(cut.ok, 'the create over the marker was stored').toEqual(expect.any(Number));
  else expect(cut, 'the create over the marker whose fate the cut left unknown failed with the connection, not by a timeout').toEqual({ code: 'ERR_PUBLISH', message: expect.stringMatching(lost) });
}

/**
 * Cut `through`'s link right after its `nth` publish to a subject containing `marker` (beyond the first: a write, not a
 * direct get), started by `write`; `whileDown` is asked for while reconnects are refused (test/support/cut-service.ts).
 */
function cutAfter<A, B>(through: ClientThroughCut, marker: string, write: () => Promise<A>, whileDown: () => Promise<B>, nth = 1) {
  const matches = (subject: string) => subject.includes(marker) && (nth <= 1 || !subject.includes('DIRECT'));
  return cutAround({ link: through.link, nc: through.client.nc }, matches, write, whileDown, nth);
}

describe('the case registry alias write across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [REGISTRY], name: 'alias-cut', policyText: await workflowPolicyText() });
  }, 60_000);
  afterAll(async () => fed?.stop());

  it('an alias write pending at the cut fails with the connection, one asked for while down is stored at the reconnect', async () => {
    const through = await connectThroughCut(fed, REGISTRY);
    const { client, link } = through;
    const bucket = agencyBuckets(client.policy, REGISTRY).find((b) => b.kind === 'kv' && b.name === 'cases')!.bucket;
    const store = await CaseStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const started = Date.now();
      const { cut, held } = await cutAfter(
        through,
        `$KV.${bucket}.alias.`,
        () => store.setAlias('xa-border-police', 'm-cut', 'training.xa-border-police.c1'),
        () => store.setAlias('xa-border-police', 'm-held', 'training.xa-border-police.c2'),
      );
      console.info(`[record-bypass-cut] alias: cut write ${JSON.stringify(cut)}, held write ${JSON.stringify(held)}, ${Date.now() - started} ms`);
      expect(cut, 'the alias write whose acknowledgement was lost failed with the connection, not by a timeout').toEqual({ code: 'ERR_PUBLISH', message: expect.stringMatching(/^connection lost .*alias\.xa-border-police\.m-cut/) });
      expect(held, 'the alias write asked for while down was sent at the reconnect').toEqual({ ok: undefined });
      expect(await store.alias('xa-border-police', 'm-held')).toBe('training.xa-border-police.c2');
      // The write of unknown fate was stored (only its acknowledgement was dropped); written again it is the same alias.
      expect(await store.alias('xa-border-police', 'm-cut')).toBe('training.xa-border-police.c1');
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('a case created over a removed one (the fallback after its conflict) follows the connection too, and is created once', async () => {
    const through = await connectThroughCut(fed, REGISTRY);
    const { client, link } = through;
    const bucket = agencyBuckets(client.policy, REGISTRY).find((b) => b.kind === 'kv' && b.name === 'cases')!.bucket;
    const store = await CaseStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    const kv = await new Kvm(agencyJetStream(client.nc)).open(bucket);
    const rec = (n: string) => ({ ref: n, note: n }) as unknown as CaseRecord;
    try {
      for (const k of ['training.x.gone1', 'training.x.gone2']) {
        expect(await store.create(k, rec('old'))).toBeGreaterThan(0);
        await kv.delete(k);
      }
      // The create's first write conflicts with the removal marker; the cut comes right after the second (over it).
      const { cut, held } = await cutAfter(
        through,
        `$KV.${bucket}.training.x.gone1`,
        () => store.create('training.x.gone1', rec('new1')),
        () => store.create('training.x.gone2', rec('new2')),
        2,
      );
      console.info(`[record-bypass-cut] create over a removal: cut ${JSON.stringify(cut)}, held ${JSON.stringify(held)}`);
      expectNoTimeout(cut, /^connection lost .*training\.x\.gone1/);
      expect(held, 'the create asked for while down was done at the reconnect').toEqual({ ok: expect.any(Number) });
      // Exactly once: the case stored without its acknowledgement is there, and created again it conflicts.
      expect((await store.get('training.x.gone1'))?.record).toEqual(rec('new1'));
      expect((await store.get('training.x.gone2'))?.record).toEqual(rec('new2'));
      expect(await store.create('training.x.gone1', rec('again')), 'the cut create is not done twice').toBeUndefined();
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);
});

describe('the centre record delete across a connection cut (issue 16)', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [CENTRE], name: 'delete-cut' });
  }, 60_000);
  afterAll(async () => fed?.stop());

  const record = (reference: string): EntityRecord => ({ kind: 'vessel', namespace: 'imo', reference, firstSeen: 1, occurrences: [] }) as unknown as EntityRecord;

  it('a delete pending at the cut fails with the connection, one asked for while down is done at the reconnect; each exactly once', async () => {
    const through = await connectThroughCut(fed, CENTRE);
    const { client, link } = through;
    const bucket = agencyBuckets(client.policy, CENTRE).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const [a, b] = [entityHash('imo:9100001'), entityHash('imo:9100002')];
      const revA = (await store.writeEntity(a, 0, record('ref-a')))!;
      const revB = (await store.writeEntity(b, 0, record('ref-b')))!;
      expect(revA && revB).toBeGreaterThan(0);
      const { cut, held } = await cutAfter(
        through,
        `$KV.${bucket}.ent.${a}`,
        () => store.replaceEntity(a, revA, undefined),
        () => store.replaceEntity(b, revB, undefined),
      );
      console.info(`[record-bypass-cut] delete: cut ${JSON.stringify(cut)}, held ${JSON.stringify(held)}`);
      expect(cut, 'the delete whose acknowledgement was lost failed with the connection, not by a timeout').toEqual({ code: 'ERR_PUBLISH', message: expect.stringMatching(new RegExp(`^connection lost .*ent\\.${a}`)) });
      expect(held, 'the delete asked for while down was done at the reconnect').toEqual({ ok: true });
      // Compare-and-set exact: the delete stored without its acknowledgement is found (the record is gone) and a retry
      // at the old revision conflicts instead of deleting again; likewise the held one.
      expect(await store.entity(a)).toBeUndefined();
      expect(await store.entity(b)).toBeUndefined();
      expect(await store.replaceEntity(a, revA, undefined), 'the cut delete is not done twice').toBe(false);
      expect(await store.replaceEntity(b, revB, undefined), 'the held delete is not done twice').toBe(false);
      // A create over the removal marker still works (the readers and writers understand the marker).
      expect(await store.writeEntity(a, 0, record('ref-a2'))).toBeGreaterThan(revA);
      expect((await store.entity(a))?.record.reference).toBe('ref-a2');
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('a read awaiting its answer at the cut fails with the connection, one asked for while down is answered at the reconnect', async () => {
    const through = await connectThroughCut(fed, CENTRE);
    const { client, link } = through;
    const bucket = agencyBuckets(client.policy, CENTRE).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const e = entityHash('imo:9100005');
      expect(await store.writeEntity(e, 0, record('ref-e'))).toBeGreaterThan(0);
      const { cut, held } = await cutAfter(
        through,
        'DIRECT.GET',
        () => store.entity(e),
        () => store.entity(e),
      );
      console.info(`[record-bypass-cut] read: cut ${JSON.stringify(cut)}, held ${'ok' in held ? held.ok?.record.reference : JSON.stringify(held)}`);
      expect(cut, 'the read whose answer was lost failed with the connection, not by a timeout').toEqual({ code: 'ERR_STATE_READ', message: expect.stringMatching(new RegExp(`^connection lost .*read of ent\\.${e}`)) });
      expect('ok' in held && held.ok?.record.reference, 'the read asked for while down was answered at the reconnect').toBe('ref-e');
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);

  it('a record created over a removed one (the fallback after its conflict) follows the connection too, and is created once', async () => {
    const through = await connectThroughCut(fed, CENTRE);
    const { client, link } = through;
    const bucket = agencyBuckets(client.policy, CENTRE).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    const store = await CorrelationStore.open(client.nc, bucket, { inboxPrefix: inboxPrefix(client.id) });
    try {
      const [c, d] = [entityHash('imo:9100003'), entityHash('imo:9100004')];
      for (const h of [c, d]) expect(await store.replaceEntity(h, (await store.writeEntity(h, 0, record('old')))!, undefined)).toBe(true);
      // The create's first write conflicts with the removal marker; the cut comes right after the second (over it).
      const { cut, held } = await cutAfter(
        through,
        `$KV.${bucket}.ent.${c}`,
        () => store.writeEntity(c, 0, record('new-c')),
        () => store.writeEntity(d, 0, record('new-d')),
        2,
      );
      console.info(`[record-bypass-cut] record over a removal: cut ${JSON.stringify(cut)}, held ${JSON.stringify(held)}`);
      expectNoTimeout(cut, new RegExp(`^connection lost .*ent\\.${c}`));
      expect(held, 'the create asked for while down was done at the reconnect').toEqual({ ok: expect.any(Number) });
      expect((await store.entity(c))?.record.reference).toBe('new-c');
      expect((await store.entity(d))?.record.reference).toBe('new-d');
      expect(await store.writeEntity(c, 0, record('again')), 'the cut create is not done twice').toBeUndefined();
    } finally {
      await client.close();
      await link.stop();
    }
  }, 120_000);
});
