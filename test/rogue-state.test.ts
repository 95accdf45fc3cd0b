import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import { provisionBucket } from '../services/exchange/buckets.ts';
import { objectSnapshotStore } from '../services/registry/snapshot-store.ts';
import { KvReader, type KvValue } from '../services/sdk/state/kv-reader.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { ObjectReader, objectNameToken } from '../services/sdk/state/object-reader.ts';
import { AGENCY_JS_API, STATUS_PING_SUBJECT, agencyJsApi, bucketChangesSubject, bucketName, inboxPrefix } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * Issue 12, finding 2: an agency holding state buckets must have no route by which the server
 * publishes its bucket's values on a subject the agency itself may not publish to. nats-server 2.9
 * never checks a push consumer's deliver subject against its creator's permissions, so the only
 * safe right is none: consumer create on the bucket streams is refused by the server.
 */
const CASES = 'mac-cases'; // state: { kv: [cases] }
const REGISTRY = 'xc-ncb'; // state: { objects: [snapshots] }
const CENTRE = 'mac-centre'; // state: { kv: [correlations] }
const OTHER = 'xa-ngo-harbour'; // no buckets
const KV_BUCKET = bucketName(CASES, 'cases');
const KV_STREAM = `KV_${KV_BUCKET}`;
const OBJ_BUCKET = bucketName(REGISTRY, 'snapshots');
const OBJ_STREAM = `OBJ_${OBJ_BUCKET}`;
/** A value that, delivered on the status-ping subject, would make every SDK think it was behind. */
const FREEZE = JSON.stringify({ issuedAt: '2099-01-01T00:00:00Z' });
const encoder = new TextEncoder();

/** Subjects the attacker may not publish to but would like the server to publish to for it. */
const TARGETS = [STATUS_PING_SUBJECT, `${inboxPrefix(OTHER)}.rogue`];

/** Everything an admin connection sees on `subjects` (the attack must leave them silent). */
function listen(nc: NatsConnection, subjects: string[]): { seen: string[]; subs: Subscription[] } {
  const seen: string[] = [];
  const subs = subjects.map((s) => nc.subscribe(s, { callback: (_err, m) => void seen.push(`${m.subject}: ${m.string().slice(0, 80)}`) }));
  return { seen, subs };
}

describe('rogue state: no bucket right lets the server publish for an agency', () => {
  let fed: TestFederation;
  let cases: RawAgency;
  let registry: RawAgency;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [CASES, REGISTRY, CENTRE, OTHER], name: 'rogue-state' });
    cases = await RawAgency.connect(fed.server.url, fed.agencyDirs[CASES]!, CASES);
    registry = await RawAgency.connect(fed.server.url, fed.agencyDirs[REGISTRY]!, REGISTRY);
    // The attacker's own bucket holds the freezing value (it may write its own keys).
    await cases.nc.request(agencyJsApi(`$KV.${KV_BUCKET}.freeze`), encoder.encode(FREEZE), { timeout: 2_000 });
    await registry.nc.request(`$O.${OBJ_BUCKET}.C.rogue`, encoder.encode(FREEZE), { timeout: 2_000 });
  });
  afterAll(async () => {
    await cases?.close();
    await registry?.close();
    await fed?.stop();
  });

  /** Ask for a push consumer on `stream` delivering to `target`; expect the server's refusal and silence on the target. */
  async function tryPushConsumer(rogue: RawAgency, exchangeApi: string, stream: string, filter: string, target: string, durable?: string): Promise<void> {
    // Under the exchange's own API name, and as an agency account reaches the exchange's API (LIAISON.API).
    for (const api of [exchangeApi, exchangeApi.replace('$JS.API.', `${AGENCY_JS_API}.`)]) await tryPushConsumerAt(rogue, api, stream, filter, target, durable);
  }

  async function tryPushConsumerAt(rogue: RawAgency, api: string, stream: string, filter: string, target: string, durable?: string): Promise<void> {
    const watch = listen(fed.exchange.admin, [target]);
    await fed.exchange.admin.flush();
    const config = { deliver_subject: target, deliver_policy: 'all', ack_policy: 'none', filter_subject: filter, ...(durable ? { durable_name: durable } : {}) };
    await rogue.nc.request(api, JSON.stringify({ stream_name: stream, config }), { timeout: 1_500 }).catch(() => undefined);
    const refused = await rogue.refused(api);
    await new Promise((r) => setTimeout(r, 500));
    for (const s of watch.subs) s.unsubscribe();
    expect({ api, target, refused, delivered: watch.seen }).toEqual({ api, target, refused: true, delivered: [] });
  }

  for (const target of TARGETS) {
    it(`a KV bucket holder cannot create an ephemeral push consumer delivering to ${target}`, async () => {
      await tryPushConsumer(cases, `$JS.API.CONSUMER.CREATE.${KV_STREAM}`, KV_STREAM, `$KV.${KV_BUCKET}.>`, target);
    });

    it(`a KV bucket holder cannot create a durable push consumer delivering to ${target} (old and 2.9 APIs)`, async () => {
      await tryPushConsumer(cases, `$JS.API.CONSUMER.DURABLE.CREATE.${KV_STREAM}.rogue1`, KV_STREAM, `$KV.${KV_BUCKET}.>`, target, 'rogue1');
      await tryPushConsumer(cases, `$JS.API.CONSUMER.CREATE.${KV_STREAM}.rogue2`, KV_STREAM, `$KV.${KV_BUCKET}.>`, target, 'rogue2');
      await tryPushConsumer(cases, `$JS.API.CONSUMER.CREATE.${KV_STREAM}.rogue3.$KV.${KV_BUCKET}.freeze`, KV_STREAM, `$KV.${KV_BUCKET}.freeze`, target, 'rogue3');
    });

    it(`an object store holder cannot create a push consumer delivering to ${target}`, async () => {
      await tryPushConsumer(registry, `$JS.API.CONSUMER.CREATE.${OBJ_STREAM}`, OBJ_STREAM, `$O.${OBJ_BUCKET}.C.>`, target);
      await tryPushConsumer(registry, `$JS.API.CONSUMER.CREATE.${OBJ_STREAM}.rogue4`, OBJ_STREAM, `$O.${OBJ_BUCKET}.C.>`, target, 'rogue4');
      await tryPushConsumer(registry, `$JS.API.CONSUMER.DURABLE.CREATE.${OBJ_STREAM}.rogue5`, OBJ_STREAM, `$O.${OBJ_BUCKET}.C.>`, target, 'rogue5');
    });
  }

  it('no consumer of its own may be left on its buckets to delete, inspect or flow-control', async () => {
    for (const api of ['$JS.API', AGENCY_JS_API].flatMap((p) => [`${p}.CONSUMER.DELETE.${KV_STREAM}.x`, `${p}.CONSUMER.INFO.${KV_STREAM}.x`, `${p}.CONSUMER.LIST.${KV_STREAM}`, `${p}.CONSUMER.NAMES.${KV_STREAM}`])) {
      await cases.nc.request(api, '', { timeout: 1_500 }).catch(() => undefined);
      expect(await cases.refused(api), api).toBe(true);
    }
    cases.nc.publish(`$JS.FC.${KV_STREAM}.x.1`, '');
    expect(await cases.refused(`$JS.FC.${KV_STREAM}.x.1`)).toBe(true);
  });

  it('control: the KV bucket holder writes and reads its own keys (direct get) and follows changes without a consumer', async () => {
    const before = cases.violations.length;
    const kv = await new Kvm(agencyJetStream(cases.nc)).open(KV_BUCKET, { allow_direct: true });
    const reader = await KvReader.open(cases.nc, KV_BUCKET);
    const rev = await kv.put('case.a', encoder.encode('one'));
    expect(new TextDecoder().decode((await kv.get('case.a'))!.value)).toBe('one');
    expect(await reader.get('case.a')).toMatchObject({ key: 'case.a', revision: rev });
    const seen: KvValue[] = [];
    const following = await reader.follow({ onValue: (v) => seen.push(v) });
    try {
      expect(seen.map((v) => v.key).sort()).toEqual(['case.a', 'freeze']);
      // Another connection of the same agency (a replica) changes a key; a lost compare-and-set is never reported.
      const other = await RawAgency.connect(fed.server.url, fed.agencyDirs[CASES]!, CASES);
      try {
        const kv2 = await new Kvm(agencyJetStream(other.nc)).open(KV_BUCKET, { allow_direct: true });
        const rev2 = await kv2.update('case.a', encoder.encode('two'), rev);
        await expect(kv2.update('case.a', encoder.encode('lost'), rev)).rejects.toThrow();
        await kv2.delete('freeze');
        await until(() => seen.some((v) => v.key === 'freeze' && v.value === undefined));
        const a = seen.filter((v) => v.key === 'case.a').map((v) => new TextDecoder().decode(v.value));
        expect(a).toContain('two');
        expect(a).not.toContain('lost');
        expect(seen.find((v) => v.key === 'case.a' && v.revision === rev2)).toBeDefined();
        expect([...(await reader.values()).keys()]).toEqual(['case.a']);
      } finally {
        await other.close();
      }
    } finally {
      following.stop();
    }
    expect(cases.violations.slice(before)).toEqual([]);
  });

  it('control: the object store holder writes, replaces, lists and reads its own objects, digest checked', async () => {
    const before = registry.violations.length;
    const store = await objectSnapshotStore(registry.nc, OBJ_BUCKET);
    const big = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    await store.put('registry-x', [big], big.byteLength);
    const replaced = big.map((b) => b ^ 1);
    await store.put('registry-x', [replaced], replaced.byteLength); // purges the first version's chunks
    expect(await store.list('registry-')).toEqual(['registry-x']);
    const blob = (await store.get('registry-x'))!;
    const parts: Uint8Array[] = [];
    for await (const c of blob.chunks) parts.push(c);
    await blob.verified();
    expect(Buffer.concat(parts).equals(Buffer.from(replaced))).toBe(true);
    expect(await store.get('registry-none')).toBeUndefined();
    expect(registry.violations.slice(before)).toEqual([]);
  });

  it('an object whose metadata disagrees with its chunks (digest, size) is refused with ERR_DECODE', async () => {
    const store = await objectSnapshotStore(registry.nc, OBJ_BUCKET);
    const data = encoder.encode('the registry state');
    await store.put('registry-t', [data], data.byteLength);
    const reader = await ObjectReader.open(registry.nc, OBJ_BUCKET);
    const meta = (await reader.info('registry-t'))!;
    const metaSubject = `$O.${OBJ_BUCKET}.M.${objectNameToken('registry-t')}`;
    const rewrite = async (patch: Record<string, unknown>) => {
      const { revision: _r, ...stored } = meta;
      await registry.nc.request(metaSubject, JSON.stringify({ ...stored, bucket: OBJ_BUCKET, ...patch }), { timeout: 2_000 });
    };
    const readAll = async () => {
      const r = (await reader.read('registry-t'))!;
      for await (const _ of r.chunks);
      return r.verified();
    };
    await expect(readAll()).resolves.toBeUndefined();
    await rewrite({ digest: `SHA-256=${Buffer.alloc(32, 7).toString('base64url')}=` });
    await expect(readAll()).rejects.toMatchObject({ code: 'ERR_DECODE', message: expect.stringContaining('SHA-256') });
    await rewrite({ size: data.byteLength - 1 });
    await expect(readAll()).rejects.toMatchObject({ code: 'ERR_DECODE' });
    await rewrite({ chunks: 2 });
    await expect(readAll()).rejects.toMatchObject({ code: 'ERR_DECODE', message: expect.stringContaining('1 of 2 chunks') });
  });

  it('a bucket made without direct get gets it when the exchange provisions again (the agency has no other read)', async () => {
    const jsm = await jetstreamManager(fed.exchange.admin);
    await jsm.streams.update(KV_STREAM, { allow_direct: false });
    const reader = await KvReader.open(cases.nc, KV_BUCKET);
    await expect(reader.get('case.a')).rejects.toMatchObject({ code: 'ERR_EXCHANGE' });
    const spec = agencyBuckets(fed.exchange.policy, CASES).find((b) => b.bucket === KV_BUCKET)!;
    await provisionBucket(fed.exchange.admin, spec);
    expect((await jsm.streams.info(KV_STREAM)).config.allow_direct).toBe(true);
    expect(await reader.get('case.a')).toMatchObject({ key: 'case.a' });
  });

  it("a bucket holder cannot read, write or follow another agency's bucket", async () => {
    const foreign = `KV_${bucketName(CENTRE, 'correlations')}`;
    for (const api of ['$JS.API', AGENCY_JS_API].flatMap((p) => [`${p}.DIRECT.GET.${foreign}`, `${p}.STREAM.MSG.GET.${foreign}`, `${p}.STREAM.INFO.${foreign}`, `${p}.DIRECT.GET.${OBJ_STREAM}`])) {
      await cases.nc.request(api, '{}', { timeout: 1_500 }).catch(() => undefined);
      expect(await cases.refused(api), api).toBe(true);
    }
    for (const write of [`$KV.${bucketName(CENTRE, 'correlations')}.x`, agencyJsApi(`$KV.${bucketName(CENTRE, 'correlations')}.x`)]) {
      cases.nc.publish(write, 'x');
      expect(await cases.refused(write), write).toBe(true);
    }
    for (const follow of [`$KV.${bucketName(CENTRE, 'correlations')}.>`, `${bucketChangesSubject(bucketName(CENTRE, 'correlations'))}.>`]) {
      const sub = cases.nc.subscribe(follow);
      expect(await cases.refused(follow), follow).toBe(true);
      sub.unsubscribe();
    }
  });
});

async function until(ok: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
