/**
 * A claim whose reply is lost when the connection is cut (issue 16). The claim may be stored, so to every other
 * process it is in doubt (its handler may have run: never handled twice). The process that wrote it knows better:
 * its handler never started for that claim number, so when it claims the copy again and finds its own claim in
 * the entry, it takes the copy (compare-and-set on that revision) and handles it once. A claim of ours whose handler
 * did start (its release never written) stays in doubt. A write pending when the connection drops fails at once with
 * "connection lost", not after its 10 s timeout; one asked for while the connection is down is written once it is back.
 * A copy handled here whose floor write failed is re-checked when it comes back: the floor is written again, done.
 * Real nats-server; the record's connection runs through a TCP link (test/support/cut-link.ts) armed to drop the
 * next bytes the server sends — the write's PubAck — and close the connection; the client reconnects through it.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { HandledRecord, type Claim } from '../services/sdk/client/handled.ts';
import { covers, floorKey, parseEntry, parseFloor } from '../services/sdk/client/record-entry.ts';
import { systemClock } from '../services/sdk/clock.ts';
import { HANDLED_BUCKET } from '../services/sdk/policy/index.ts';
import { bucketName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import type { CutLink } from './support/cut-link.ts';
import { rawAgencyThroughCut } from './support/cut-service.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';

/** A handled record on its own connection through a cut link, and how often that connection came back. */
interface Linked {
  link: CutLink;
  nc: NatsConnection;
  record: HandledRecord;
  reconnects: () => number;
}

describe('a claim lost in a connection cut (issue 16)', () => {
  let fed: TestFederation;
  let receiver: LiaisonClient;
  /** The receiver's handled bucket, as the exchange administrator sees it (raw entries). */
  let kv: KV;
  const linked: Linked[] = [];
  let seq = 0;
  const id = (label: string) => `own-claim-${label}-${Date.now()}-${seq++}`;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'own-claim' });
    receiver = await fed.connect(RECEIVER);
    kv = await new Kvm(fed.exchange.admin).open(bucketName(RECEIVER, HANDLED_BUCKET));
  }, 60_000);
  afterAll(async () => {
    for (const l of linked) {
      await l.nc.close();
      await l.link.stop();
    }
    await receiver?.close();
    await fed?.stop();
  });

  /** A process of the receiver whose record writes through a fresh cut link (plain nats.js connection, its own creds). */
  async function linkedProcess(): Promise<Linked> {
    const { link, nc } = await rawAgencyThroughCut(fed, RECEIVER);
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnects++;
    })();
    const record = await HandledRecord.open(nc, RECEIVER, { clock: systemClock, replica: 1 });
    const l = { link, nc, record, reconnects: () => reconnects };
    linked.push(l);
    return l;
  }

  /** Run `write` with the link armed to drop the server's next bytes (its PubAck) and cut; settles once reconnected. */
  async function cutDuring<T>(l: Linked, write: () => Promise<T>): Promise<PromiseSettledResult<T>> {
    const before = l.reconnects();
    l.link.armCut(1);
    const [result] = await Promise.allSettled([write()]);
    expect(await Promise.race([l.link.cut, new Promise((r) => setTimeout(() => r(0), 1_000))]), 'the reply was dropped in the cut').toBeGreaterThan(0);
    await until(() => l.reconnects() > before, 20_000, 'the connection to come back through the link');
    return result!;
  }

  it('the process whose claim reply was lost takes the copy again and handles it once; to another process it stays in doubt', async () => {
    const a = await linkedProcess();
    const msgId = id('lost-reply');
    const key = a.record.keyOf(SENDER, msgId);
    const lost = await cutDuring(a, () => a.record.claim(SENDER, msgId));
    // claim() never rejects: the failed write is 'unavailable' (the loop claims again at the copy's place).
    expect(lost.status).toBe('fulfilled');
    const first = (lost as PromiseFulfilledResult<Claim>).value;
    expect(first.outcome).toBe('unavailable');
    // Failed by the disconnect, not by waiting out the write's 10 s timeout ("no acknowledgement from the exchange").
    expect(first.outcome === 'unavailable' && first.error.message).toMatch(/^connection lost/);
    // The claim was stored (the server acknowledged it; the acknowledgement was what the cut dropped).
    const stored = parseEntry((await kv.get(key))?.string() ?? '');
    expect(stored.claimOf?.process).toBe(a.record.processId);

    // Another process cannot know whether a handler ran for it: in doubt, as before.
    const b = await HandledRecord.open(receiver.nc, RECEIVER, { clock: systemClock, replica: 1 });
    expect((await b.claim(SENDER, msgId)).outcome).toBe('in-doubt');

    // The process that wrote it knows no handler started for that claim number: it claims the copy again.
    const again = await a.record.claim(SENDER, msgId);
    expect(again.outcome).toBe('claimed');
    const retaken = parseEntry((await kv.get(key))?.string() ?? '').claimOf;
    expect(retaken?.process).toBe(a.record.processId);
    expect(retaken?.n).toBeGreaterThan(stored.claimOf!.n);
    if (again.outcome === 'claimed') await again.finish();
    // Handled once: done for everyone now, never claimed a third time.
    expect((await a.record.claim(SENDER, msgId)).outcome).toBe('done');
    expect((await b.claim(SENDER, msgId)).outcome).toBe('done');
  }, 60_000);

  it('a write asked for while the connection is down waits for the reconnect and is written then, not dropped', async () => {
    const a = await linkedProcess();
    const before = a.reconnects();
    // The link cuts at the next reply and then refuses the client's reconnects until told otherwise.
    a.link.refuse(true);
    a.link.armCut(1);
    const cut = await a.record.claim(SENDER, id('cut'));
    expect(cut.outcome === 'unavailable' && cut.error.message).toMatch(/^connection lost/);
    // Down: a claim asked for now. nats.js drops what is published between a disconnect and its next dial.
    const msgId = id('while-down');
    const asked = a.record.claim(SENDER, msgId);
    const refusedThen = a.link.refused();
    await until(() => a.link.refused() >= refusedThen + 2, 20_000, 'two reconnects refused while the claim waits');
    expect(a.reconnects()).toBe(before);
    a.link.refuse(false);
    // Written once the connection is back: claimed, not failed at its 10 s timeout.
    const c = await asked;
    expect(c.outcome === 'unavailable' ? c.error.message : c.outcome).toBe('claimed');
    expect(parseEntry((await kv.get(a.record.keyOf(SENDER, msgId)))?.string() ?? '').claimOf?.process).toBe(a.record.processId);
  }, 60_000);

  /** Run `write` while the receiver's handled bucket stores elsewhere (its writes unanswered), then put it back. */
  async function bucketAway<T>(write: () => Promise<T>): Promise<PromiseSettledResult<T>> {
    const jsm = await jetstreamManager(fed.exchange.admin);
    const stream = `KV_${bucketName(RECEIVER, HANDLED_BUCKET)}`;
    const original = (await jsm.streams.info(stream)).config;
    await jsm.streams.update(stream, { ...original, subjects: [`unreachable.${RECEIVER}.>`] });
    try {
      return (await Promise.allSettled([write()]))[0]!;
    } finally {
      await jsm.streams.update(stream, original);
    }
  }

  it('a copy handled here whose floor write failed is done when it comes back: the floor is written again, not assumed', async () => {
    const a = await HandledRecord.open(receiver.nc, RECEIVER, { clock: systemClock, replica: 1 });
    const msgId = id('unwritten-floor');
    const c = await a.claim(SENDER, msgId);
    expect(c.outcome).toBe('claimed');
    if (c.outcome !== 'claimed') return;
    const n = parseEntry((await kv.get(a.keyOf(SENDER, msgId)))?.string() ?? '').claimOf?.n;
    // The handler succeeded; the floor write that marks it done is not stored (so the copy is not acknowledged).
    expect((await bucketAway(() => c.finish())).status).toBe('rejected');
    const durable = async () => {
      const f = await kv.get(floorKey(a.processId));
      return !!f && covers(parseFloor(f.string()), n!);
    };
    expect(await durable()).toBe(false);
    // Another process cannot tell whether the handler ran: in doubt.
    const b = await HandledRecord.open(receiver.nc, RECEIVER, { clock: systemClock, replica: 1 });
    expect((await b.claim(SENDER, msgId)).outcome).toBe('in-doubt');
    // This one knows it finished it: its floor is written again, and the copy is done (acknowledged, not handled again).
    expect((await a.claim(SENDER, msgId)).outcome).toBe('done');
    expect(await durable()).toBe(true);
    expect((await b.claim(SENDER, msgId)).outcome).toBe('done');
  }, 60_000);

  it('a claim of ours whose handler started (its release never written) stays in doubt to us too', async () => {
    const a = await HandledRecord.open(receiver.nc, RECEIVER, { clock: systemClock, replica: 1 });
    const msgId = id('unwritten-release');
    const key = a.keyOf(SENDER, msgId);
    const c = await a.claim(SENDER, msgId);
    expect(c.outcome).toBe('claimed');
    if (c.outcome !== 'claimed') return;
    // The handler ran and failed; its release (`free`) cannot be written: the bucket's stream stores elsewhere for a moment.
    expect((await bucketAway(() => c.release())).status).toBe('rejected');
    const entry = parseEntry((await kv.get(key))?.string() ?? '');
    expect(entry.claimOf?.process).toBe(a.processId);
    // Its claim number was taken by a handler that ran: never free for this process either.
    expect((await a.claim(SENDER, msgId)).outcome).toBe('in-doubt');
  }, 60_000);
});
