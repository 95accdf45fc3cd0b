/**
 * Ids the broker-side de-duplication cannot be pre-empted on (issue 12). JetStream de-duplicates by
 * the `Nats-Msg-Id` header, which the broker never checks against the publisher. An agency that
 * learns another's message id before it is sent must not be able to store a message first under the
 * victim's Nats-Msg-Id and so make JetStream drop the genuine one as a duplicate.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { loadAgencyDir } from '../services/sdk/client/identity.ts';
import type { MessageHeader } from '../services/sdk/envelope/header.ts';
import { MSG_ID_TAG, msgIdTag, msgIdTagKey } from '../services/sdk/envelope/msg-id-tag.ts';
import { checkNatsHeaders, natsMsgId } from '../services/sdk/envelope/nats-headers.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError, LiaisonError } from '../services/sdk/errors.ts';
import type { Delivery } from '../services/sdk/client/consume.ts';
import { quarantineDurably } from '../services/sdk/client/quarantine.ts';
import { listQuarantine, replayQuarantined } from '../services/sdk/client/quarantine-replay.ts';
import { QUARANTINE_STREAM, quarantineSubject } from '../services/sdk/subjects.ts';
import { uuidv7 } from '../services/sdk/ids.ts';
import { TIERS } from '../services/sdk/tier.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';
import { createHmac, randomBytes } from 'node:crypto';
import { IndexDocumentStore } from '../services/registry/index-store.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry } from '../services/registry/service.ts';

/** What the receive path passes for the quarantine's de-duplication id: the agency's tag key. */
const quarantineKeyOf = (client: LiaisonClient) => ({ msgIdKey: msgIdTagKey(client.identity.key.privateKey) });

const until = async (pred: () => boolean | Promise<boolean>, ms = 8_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return await pred();
};

describe('Nats-Msg-Id cannot be pre-empted by another agency (issue 12)', () => {
  let fed: TestFederation;
  let border: LiaisonClient;
  let xb: LiaisonClient;
  let coast: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xa-coast-guard', 'xc-ncb'], name: 'msg-id-preemption' });
    border = await fed.connect('xa-border-police');
    xb = await fed.connect('xb-police');
    coast = await fed.connect('xa-coast-guard');
  });
  afterAll(async () => {
    await fed?.stop();
  });

  /** Everything coast guard receives of type IntelligenceReport with header id `id`, until `done` holds. */
  async function receivedWith(id: string, done: (got: ReceivedMessage[]) => boolean): Promise<ReceivedMessage[]> {
    const got: ReceivedMessage[] = [];
    await until(async () => {
      await coast.drain((m) => void got.push(m), { types: ['IntelligenceReport'], expiresMs: 1_000 });
      return done(got.filter((m) => m.header.id === id));
    });
    return got.filter((m) => m.header.id === id);
  }

  it('a message stored first by another agency under the victim’s `<sender>:<id>:<tier>` does not make JetStream drop the genuine one', async () => {
    // xb-police learnt the id xa-border-police is about to use (a caller-chosen id, or one a correction will reference).
    const id = uuidv7();
    const bait = xb.seal('IntelligenceReport', { summary: 'pre-empting, by xb-police' }, { to: 'xa-coast-guard', id });
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xb-police']!, 'xb-police');
    try {
      const js = jetstream(raw.nc);
      // On its own sender subject (which it may publish to), into the same stream, once per tier.
      const copy = bait.copies[0]!;
      for (const tier of TIERS) {
        const h = natsHeaders();
        h.set('Nats-Msg-Id', `xa-border-police:${id}:${tier}`);
        expect((await js.publish(copy.subject, copy.data, { headers: h })).duplicate).toBe(false);
      }
    } finally {
      await raw.close();
    }
    // The genuine publish is stored, not reported a duplicate…
    const genuine = await border.send('IntelligenceReport', { summary: 'genuine, by xa-border-police' }, { to: 'xa-coast-guard', id });
    expect(genuine.copies.length).toBeGreaterThan(0);
    expect(genuine.copies.map((c) => c.duplicate)).toEqual(genuine.copies.map(() => false));
    // …and delivered.
    const got = await receivedWith(id, (ms) => ms.some((m) => m.header.sender === 'xa-border-police'));
    expect(got.filter((m) => m.header.sender === 'xa-border-police').map((m) => (m.body as { summary: string }).summary)).toEqual(['genuine, by xa-border-police']);
  });

  it('control: the genuine sender repeating a publish with the same id is still de-duplicated (one copy stored per tier)', async () => {
    const id = uuidv7();
    const first = await border.send('IntelligenceReport', { summary: 'sent twice' }, { to: 'xa-coast-guard', id });
    expect(first.copies.map((c) => c.duplicate)).toEqual(first.copies.map(() => false));
    const again = await border.send('IntelligenceReport', { summary: 'sent twice' }, { to: 'xa-coast-guard', id });
    expect(again.copies.map((c) => c.duplicate)).toEqual(again.copies.map(() => true));
    expect(again.copies.map((c) => c.seq)).toEqual(first.copies.map((c) => c.seq));
    // A replica of the same agency (the same key, loaded again) de-duplicates against it too.
    const replica = await fed.connect('xa-border-police');
    const third = await replica.send('IntelligenceReport', { summary: 'sent twice' }, { to: 'xa-coast-guard', id });
    expect(third.copies.map((c) => c.duplicate)).toEqual(first.copies.map(() => true));
    const got = await receivedWith(id, (ms) => ms.length >= first.copies.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length).toBe(first.copies.length);
  });
  it('a person alert stored first by another agency under the victim’s message id takes neither the id nor its reference (¶16 registry)', async () => {
    const key = randomBytes(32);
    const registry = await startRegistry({ client: await fed.connect('xc-ncb'), store: new IndexDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)) });
    try {
      const refusals: ReceivedMessage[] = [];
      await border.consume((m) => void refusals.push(m), { types: ['RegistryRefusal'] });
      await xb.consume((m) => void refusals.push(m), { types: ['RegistryRefusal'] });
      const person = { name: { givenNames: 'Rami', familyName: 'Haddad' }, birthDate: '1984-05-06' };
      const decoy = { name: { givenNames: 'Someone', familyName: 'Else' }, birthDate: '1990-01-01' };
      const id = uuidv7();
      // xb-police learnt the id in advance: an alert of its own under that id, and one naming the
      // reference the genuine alert will have.
      await xb.send('PersonAlert', { subject: decoy }, { id });
      const squat = await xb.send('PersonAlert', { alertReference: `xa-border-police:${id}`, subject: decoy });
      expect(await until(() => registry.stats.alerts + registry.stats.refused >= 2)).toBe(true);
      expect(await until(() => refusals.some((m) => m.body.refusedMessageId === squat.id))).toBe(true);
      expect(refusals.find((m) => m.body.refusedMessageId === squat.id)!.body.code).toBe('ERR_BODY_INVALID');

      await border.send('PersonAlert', { subject: person }, { id });
      const check = async (p: typeof person) => (await xb.request('PersonCheckRequest', { subject: p })).body as { outcome: string; alertReference?: string };
      expect(await until(async () => (await check(person)).outcome === 'CHECK_OUTCOME_HIT')).toBe(true);
      expect((await check(person)).alertReference).toBe(`xa-border-police:${id}`);
      expect((await check(decoy)).alertReference).toBe(`xb-police:${id}`);
      expect(refusals.filter((m) => m.body.refusedMessageId === id)).toEqual([]);
      // Each sender's retraction drops only its own alert.
      await border.retract(id, 'issued in error');
      expect(await until(async () => (await check(person)).outcome !== 'CHECK_OUTCOME_HIT')).toBe(true);
      expect((await check(decoy)).outcome).toBe('CHECK_OUTCOME_HIT');
    } finally {
      await registry.stop();
    }
  });

  describe('the quarantine (one stream for every agency: its de-duplication id must be the quarantining agency’s own)', () => {
    /** The last entry on `agency`'s quarantine subject, as the exchange's administrator reads it. */
    const lastQuarantined = async (agency: string) => {
      const jsm = await jetstreamManager(fed.exchange.admin);
      const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: quarantineSubject(agency) }).catch(() => null);
      return m ? { seq: m.seq, id: m.header?.get('liaison-msg-id'), sender: m.header?.get('liaison-sender') } : undefined;
    };
    /** Quarantine a copy of `sender`'s message `id` durably, as `client`'s receive path does for a dead letter. */
    const deadLetter = async (client: LiaisonClient, sender: string, id: string) => {
      const delivery = { subject: `liaison.v1.operational.cooperation.IntelligenceReport.${sender}.all`, data: new TextEncoder().encode('copy') } as unknown as Delivery;
      await quarantineDurably({ nc: client.nc, self: client.id, ...quarantineKeyOf(client) }, delivery, new LiaisonError('ERR_DEAD_LETTER', 'failed on its last delivery'), {
        kind: 'dead-letter',
        sender,
        id,
        deliveryCount: 4,
      });
    };

    it('two agencies quarantining the same message both keep their record', async () => {
      const id = uuidv7();
      await deadLetter(coast, 'xa-border-police', id);
      await deadLetter(xb, 'xa-border-police', id);
      expect((await lastQuarantined('xa-coast-guard'))?.id).toBe(id);
      expect((await lastQuarantined('xb-police'))?.id).toBe(id);
    });

    it('another agency storing first under the victim’s quarantine de-duplication id does not suppress the victim’s record', async () => {
      const id = uuidv7();
      const before = await lastQuarantined('xa-coast-guard');
      const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xb-police']!, 'xb-police');
      try {
        const js = jetstream(raw.nc);
        for (const msgID of [`dead-letter xa-border-police ${id}`, `xa-coast-guard dead-letter xa-border-police ${id}`]) {
          expect((await js.publish(quarantineSubject('xb-police'), new Uint8Array(0), { msgID })).duplicate).toBe(false);
        }
      } finally {
        await raw.close();
      }
      await deadLetter(coast, 'xa-border-police', id);
      const after = await lastQuarantined('xa-coast-guard');
      expect(after?.seq).not.toBe(before?.seq);
      expect(after).toMatchObject({ id, sender: 'xa-border-police' });
    });
  });

  it('another agency storing first under the victim’s replay-marker id does not keep the victim’s replayed dead letter waiting in its quarantine', async () => {
    // The coast guard's consumers: a short ack wait and a low delivery limit, so a failing handler dead-letters in seconds.
    const jsm = await jetstreamManager(fed.exchange.admin);
    for (const c of coast.consumerSpecs(['IntelligenceReport'])) await jsm.consumers.update(c.stream, c.name, { ack_wait: 1_000_000_000, max_deliver: 4 });
    const sent = await border.send('IntelligenceReport', { summary: 'poison for the coast guard' }, { to: 'xa-coast-guard' });
    let broken = true;
    const receiver = await fed.connect('xa-coast-guard');
    await receiver.consume(
      (m) => {
        if (broken && m.header.id === sent.id) throw new Error('the handler cannot take it yet');
      },
      { types: ['IntelligenceReport'] },
    );
    const waiting = async () => (await listQuarantine(receiver)).filter((c) => c.id === sent.id && c.sender === 'xa-border-police');
    expect(await until(async () => (await waiting()).length === 1, 20_000)).toBe(true);
    const entry = (await waiting())[0]!;
    expect(entry.code).toBe('ERR_DEAD_LETTER');
    // xb-police guesses the entry's quarantine sequence and stores a record of its own under the replay marker's id.
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs['xb-police']!, 'xb-police');
    try {
      const js = jetstream(raw.nc);
      for (const msgID of [`replayed ${entry.seq}`, `xa-coast-guard replayed xa-border-police ${entry.seq}`]) {
        expect((await js.publish(quarantineSubject('xb-police'), new Uint8Array(0), { msgID })).duplicate).toBe(false);
      }
    } finally {
      await raw.close();
    }
    broken = false;
    const result = await replayQuarantined(receiver, { id: sent.id, sender: 'xa-border-police' });
    expect(result.replayed.map((c) => c.id)).toEqual([sent.id]);
    // The replay is recorded: the entry no longer waits.
    expect(await waiting()).toEqual([]);
    await receiver.close();
  });

  it('the tag is stable for one key across loads (restarts, replicas) and differs between agencies, ids and tiers', async () => {
    const a1 = msgIdTagKey((await loadAgencyDir(fed.agencyDirs['xa-border-police']!)).key.privateKey);
    const a2 = msgIdTagKey((await loadAgencyDir(fed.agencyDirs['xa-border-police']!)).key.privateKey);
    const b = msgIdTagKey((await loadAgencyDir(fed.agencyDirs['xb-police']!)).key.privateKey);
    const t = msgIdTag(a1, 'xa-border-police', 'm1', 'operational');
    expect(t).toMatch(MSG_ID_TAG);
    expect(msgIdTag(a2, 'xa-border-police', 'm1', 'operational')).toBe(t);
    expect(msgIdTag(b, 'xa-border-police', 'm1', 'operational')).not.toBe(t);
    expect(msgIdTag(a1, 'xa-border-police', 'm2', 'operational')).not.toBe(t);
    expect(msgIdTag(a1, 'xa-border-police', 'm1', 'personal')).not.toBe(t);
    // It is HMAC-SHA256 (RFC 2104), truncated to 16 bytes.
    expect(t).toBe(createHmac('sha256', a1).update(JSON.stringify(['xa-border-police', 'm1', 'operational'])).digest().subarray(0, 16).toString('base64url'));
    // The fields cannot be shifted into one another.
    expect(msgIdTag(a1, 'xa', 'border-police|m1', 'operational')).not.toBe(msgIdTag(a1, 'xa|border-police', 'm1', 'operational'));
  });
});

describe('the Nats-Msg-Id tag', () => {
  const header = (over: Partial<MessageHeader> = {}): MessageHeader =>
    ({ id: '01900000-0000-7000-8000-000000000001', type: 'liaison.v1.IntelligenceReport', sender: 'xa-border-police', tier: 'operational', ...over }) as MessageHeader;

  it('receivers accept the tagged and the older three-field form, and refuse either with another sender, id or tier', () => {
    const h = header();
    const base = natsMsgId(h);
    const check = (v: string) => {
      try {
        checkNatsHeaders(h, (n) => (n === 'Nats-Msg-Id' ? v : undefined));
        return 'ok';
      } catch (err) {
        return isLiaisonError(err) ? err.code : 'untyped';
      }
    };
    expect(check(`${base}:AAAAAAAAAAAAAAAAAAAAAA`)).toBe('ok');
    expect(check(base)).toBe('ok');
    expect(check(`xb-police:${h.id}:operational:AAAAAAAAAAAAAAAAAAAAAA`)).toBe('ERR_HEADER_MISMATCH');
    expect(check(`xa-border-police:other:operational:AAAAAAAAAAAAAAAAAAAAAA`)).toBe('ERR_HEADER_MISMATCH');
    expect(check(`xa-border-police:${h.id}:personal:AAAAAAAAAAAAAAAAAAAAAA`)).toBe('ERR_HEADER_MISMATCH');
    expect(check(`${base}:not a tag`)).toBe('ERR_HEADER_MISMATCH');
    expect(check(`${base}:`)).toBe('ERR_HEADER_MISMATCH');
  });
});
