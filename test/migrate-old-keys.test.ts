/**
 * Records written before a message was (sender, id) (issue 12): retraction records, centre facts and
 * case aliases were keyed by the message id alone. Each store moves its old entries to their
 * (sender, id) key when its service starts. Each test writes an old-format entry with raw nats.js
 * (the store's own bucket, as the pre-fix code laid it out), starts the service and checks that the
 * entry moved and that the service reads it.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentre } from '../services/centre/index.ts';
import { migrateCentreFacts, planFacts } from '../services/centre/migrate-facts.ts';
import { planRetraction } from '../services/exchange/migrate-retractions.ts';
import { migrateCaseAliases, planAlias } from '../services/workflows/migrate-aliases.ts';
import { attachExchange, type AttachedExchange } from '../services/exchange/exchange.ts';
import { RETRACTIONS_BUCKET } from '../services/exchange/retract-service.ts';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { KvReader } from '../services/sdk/state/kv-reader.ts';
import { startWorkflows } from '../services/workflows/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const until = async (pred: () => boolean | Promise<boolean>, ms = 8_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return await pred();
};

/** The bucket name of `agency`'s KV bucket `name` under the policy. */
function bucketOf(client: LiaisonClient, name: string): string {
  return agencyBuckets(client.policy, client.id).find((b) => b.kind === 'kv' && b.name === name)!.bucket;
}

/** Rewrite `client`'s KV entry at `from` to the old key `to`, with raw nats.js through the agency's own rights. */
async function moveBack(client: LiaisonClient, bucket: string, from: string, to: string): Promise<void> {
  const kv = await new Kvm(agencyJetStream(client.nc)).open(bucket, { allow_direct: true });
  const e = await kv.get(from);
  expect(e?.operation).toBe('PUT');
  await kv.put(to, e!.value);
  await kv.delete(from);
}

describe('records keyed by id alone before (sender, id) are migrated on start (issue 12)', () => {
  let fed: TestFederation;
  let restarted: AttachedExchange | undefined;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xc-training', 'xb-police', 'xa-border-police', 'mac-centre', 'mac-cases'], name: 'migrate-old-keys' });
  });
  afterAll(async () => {
    await restarted?.stop();
    await fed?.stop().catch(() => undefined);
  });

  it('centre facts under `facts.<id>` move to `facts.<sender>.<id>`, and a retraction by their sender then finds them', async () => {
    const xb = await fed.connect('xb-police');
    const sent = await xb.send('IntelligenceReport', { summary: 'Vessel seen', vessel: { imoNumber: '9222222', kind: 'fishing vessel' }, location: 'Port Eta', observedAt: new Date().toISOString() });
    let client = await fed.connect('mac-centre');
    let centre = await startCentre({ client, reportEveryMs: 0, minPublicCount: 1 });
    expect(await until(async () => (await centre.store.facts('xb-police', sent.id)) !== undefined)).toBe(true);
    await centre.stop();
    await client.close();

    client = await fed.connect('mac-centre');
    const bucket = bucketOf(client, 'correlations');
    await moveBack(client, bucket, `facts.xb-police.${sent.id}`, `facts.${sent.id}`);
    centre = await startCentre({ client, reportEveryMs: 0, minPublicCount: 1 });
    try {
      expect(await centre.store.facts('xb-police', sent.id)).toMatchObject({ agency: 'xb-police', messageId: sent.id });
      const reader = await KvReader.open(client.nc, bucket);
      expect(await reader.get(`facts.${sent.id}`)).toBeUndefined();
      // Idempotent, and cheap: a second start reads no entry (the server filters the old one-token keys).
      expect(await migrateCentreFacts(client.nc, bucket)).toMatchObject({ scanned: 0, moved: 0, superseded: 0, unresolved: 0, truncated: false });
      await xb.retract(sent.id, 'vessel misidentified');
      expect(await until(async () => (await centre.store.facts('xb-police', sent.id))?.retracted !== undefined)).toBe(true);
    } finally {
      await centre.stop();
    }
  });

  it('case aliases under `alias.<id>` move to `alias.<sender>.<id>` (the sender read from the case)', async () => {
    const training = await fed.connect('xc-training');
    let client = await fed.connect('mac-cases');
    let wf = await startWorkflows({ client, tickMs: 0 });
    const bucket = bucketOf(client, 'cases');
    const offer = await training.send('TrainingOffer', { courseCode: 'MIG-1', title: 'Migrated aliases', eligibleRoles: [], seats: 2, delivery: 'DELIVERY_MODE_IN_PERSON' });
    const reader = await KvReader.open(client.nc, bucket);
    const alias = `alias.xc-training.${offer.id}`;
    expect(await until(async () => (await reader.get(alias)) !== undefined)).toBe(true);
    const caseKey = new TextDecoder().decode((await reader.get(alias))!.value);
    await wf.stop();
    await client.close();

    client = await fed.connect('mac-cases');
    await moveBack(client, bucket, alias, `alias.${offer.id}`);
    wf = await startWorkflows({ client, tickMs: 0 });
    try {
      const after = await KvReader.open(client.nc, bucket);
      expect(new TextDecoder().decode((await after.get(alias))?.value ?? new Uint8Array())).toBe(caseKey);
      expect(await after.get(`alias.${offer.id}`)).toBeUndefined();
      expect(await migrateCaseAliases(client.nc, bucket)).toMatchObject({ scanned: 0, moved: 0, superseded: 0, unresolved: 0, truncated: false });
    } finally {
      await wf.stop();
    }
  });

  it('retraction records under `<id>` move to `<sender>.<id>`: the sender’s status finds its record, and retracting again answers it', async () => {
    const training = await fed.connect('xc-training');
    const offer = await training.send('TrainingOffer', { courseCode: 'MIG-2', title: 'Migrated retractions', eligibleRoles: [], seats: 2, delivery: 'DELIVERY_MODE_IN_PERSON' });
    const first = await training.retract(offer.id, 'course cancelled');
    // The record as the exchange wrote it before (sender, id): under the id alone.
    const kv = await new Kvm(fed.exchange.admin).open(RETRACTIONS_BUCKET);
    const e = await kv.get(`xc-training.${offer.id}`);
    await kv.put(offer.id, e!.value);
    await kv.delete(`xc-training.${offer.id}`);
    await fed.exchange.stop();

    restarted = await attachExchange({ trustDir: fed.trustDir, url: fed.server.url, catalog: typeCatalogOf(fed.catalog) });
    const moved = await new Kvm(restarted.admin).open(RETRACTIONS_BUCKET);
    expect(await until(async () => (await moved.get(`xc-training.${offer.id}`))?.operation === 'PUT')).toBe(true);
    expect((await moved.get(offer.id))?.operation).not.toBe('PUT');
    expect(await until(async () => (await training.retractionStatus(offer.id).catch(() => undefined)) !== undefined, 10_000)).toBe(true);
    const status = await training.retractionStatus(offer.id);
    expect(status).toMatchObject({ sender: 'xc-training', originalId: offer.id, reason: 'course cancelled', retractedAt: first.record.retractedAt });
    expect((await training.retract(offer.id, 'again')).record.retractedAt).toBe(first.record.retractedAt);
  });
});

describe('telling an old-format entry from a current one', () => {
  const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  const id = '01900000-0000-7000-8000-0000000000aa';

  it('retraction records: by the sender and id the record names, never by the dots of the key', () => {
    const record = { sender: 'xc-training', originalId: id };
    expect(planRetraction({ key: id, value: bytes(record) })).toEqual({ kind: 'move', to: `xc-training.${id}` });
    expect(planRetraction({ key: `xc-training.${id}`, value: bytes(record) })).toEqual({ kind: 'current' });
    // A record under another agency's key, or without a sender, is not moved anywhere.
    expect(planRetraction({ key: `xb-police.${id}`, value: bytes(record) }).kind).toBe('unresolved');
    expect(planRetraction({ key: id, value: bytes({ originalId: id }) }).kind).toBe('unresolved');
    expect(planRetraction({ key: id, value: bytes('{not json') }).kind).toBe('unresolved');
  });

  it('centre facts: by the sender (agency) and message id the facts name', () => {
    const facts = { agency: 'xb-police', messageId: id };
    expect(planFacts({ key: `facts.${id}`, value: bytes(facts) })).toEqual({ kind: 'move', to: `facts.xb-police.${id}` });
    expect(planFacts({ key: `facts.xb-police.${id}`, value: bytes(facts) })).toEqual({ kind: 'current' });
    expect(planFacts({ key: `facts.xa-border-police.${id}`, value: bytes(facts) }).kind).toBe('unresolved');
    expect(planFacts({ key: `facts.${id}`, value: bytes({ messageId: id }) }).kind).toBe('unresolved');
  });

  it('case aliases: the sender is the actor of the step of the named case; two senders, or no case, are left in place', async () => {
    const cases: Record<string, unknown> = {
      one: { timeline: [{ messageId: id, actor: 'xc-training' }] },
      two: { timeline: [{ messageId: id, actor: 'xc-training' }, { messageId: id, actor: 'xd-training' }] },
    };
    const reader = { get: async (k: string) => (k in cases ? { key: k, revision: 1, value: bytes(cases[k]) } : undefined) };
    expect(await planAlias(reader, { key: `alias.${id}`, value: bytes('one') })).toEqual({ kind: 'move', to: `alias.xc-training.${id}` });
    expect(await planAlias(reader, { key: `alias.xc-training.${id}`, value: bytes('one') })).toEqual({ kind: 'current' });
    expect((await planAlias(reader, { key: `alias.${id}`, value: bytes('two') })).kind).toBe('unresolved');
    expect((await planAlias(reader, { key: `alias.${id}`, value: bytes('gone') })).kind).toBe('unresolved');
  });
});
