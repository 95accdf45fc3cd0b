/**
 * The handled record's done floor (issue 12, the record's cost): a process numbers its claims and marks
 * them done by one floor entry per batch (`=floor.<P>`: every claim up to H, except the holes, is
 * finished) instead of one `done` write per message. These tests pin the rule at its boundaries, with
 * real nats-server and the agency's own bucket: a claim numbered exactly H is done, H+1 is in doubt, an
 * unfinished claim below H stays in doubt, a finish resolves only when its floor is stored, the
 * receiver acknowledges a copy only after that (seen on the wire), and entries of the per-message era
 * still read as before.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm, type KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { HandledRecord, type Claim } from '../services/sdk/client/handled.ts';
import { covers, floorKey, parseEntry, parseFloor } from '../services/sdk/client/record-entry.ts';
import { systemClock } from '../services/sdk/clock.ts';
import { HANDLED_BUCKET } from '../services/sdk/policy/index.ts';
import { bucketName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { startNatsTap } from './support/nats-tap.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';

type Claimed = Extract<Claim, { outcome: 'claimed' }>;

describe('the done floor of the handled record (issue 12)', () => {
  let fed: TestFederation;
  let receiver: LiaisonClient;
  /** The receiver's handled bucket, as the exchange administrator sees it (raw entries). */
  let kv: KV;
  let seq = 0;
  /** A fresh message id (its key is untouched). */
  const id = (label: string) => `floor-${label}-${Date.now()}-${seq++}`;
  const open = () => HandledRecord.open(receiver.nc, RECEIVER, { clock: systemClock, replica: 1 });
  async function claimed(r: HandledRecord, msgId: string): Promise<Claimed> {
    const c = await r.claim(SENDER, msgId);
    if (c.outcome !== 'claimed') throw new Error(`expected a claim of ${msgId}, got ${c.outcome}`);
    return c;
  }
  /** The claim number the entry of `msgId` carries. */
  async function numberOf(r: HandledRecord, msgId: string): Promise<number | undefined> {
    const e = await kv.get(r.keyOf(SENDER, msgId));
    return e ? parseEntry(e.string()).claimOf?.n : undefined;
  }
  async function floorOf(p: string) {
    const e = await kv.get(floorKey(p));
    return e ? parseFloor(e.string()) : undefined;
  }

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'handled-floor' });
    receiver = await fed.connect(RECEIVER);
    kv = await new Kvm(fed.exchange.admin).open(bucketName(RECEIVER, HANDLED_BUCKET));
  }, 60_000);
  afterAll(async () => {
    await receiver?.close();
    await fed?.stop();
  });

  it('a claim numbered exactly the floor is done for another process; the next number, claimed after the floor was written, is in doubt', async () => {
    const a = await open();
    const ids = [id('a1'), id('a2'), id('a3')];
    for (const m of ids) await (await claimed(a, m)).finish();
    const after = id('a4');
    await claimed(a, after); // claimed, never finished (the process "died" here)
    expect(await numberOf(a, ids[2]!)).toBe(3);
    expect(await numberOf(a, after)).toBe(4);
    expect(await floorOf(a.processId)).toEqual({ high: 3, holes: new Set() });

    const b = await open();
    expect(b.processId).not.toBe(a.processId);
    expect((await b.claim(SENDER, ids[2]!)).outcome).toBe('done'); // n = H
    expect((await b.claim(SENDER, ids[0]!)).outcome).toBe('done'); // n < H
    expect((await b.claim(SENDER, after)).outcome).toBe('in-doubt'); // n = H + 1
  });

  it('a finish out of order does not cover a claim still running below it: that one stays in doubt, the ones finished on both sides are done', async () => {
    const a = await open();
    const [first, middle, last] = [id('o1'), id('o2'), id('o3')];
    const c1 = await claimed(a, first);
    await claimed(a, middle); // its handler never returns
    const c3 = await claimed(a, last);
    await Promise.all([c3.finish(), c1.finish()]);
    expect(await floorOf(a.processId)).toEqual({ high: 3, holes: new Set([2]) });

    const b = await open();
    expect((await b.claim(SENDER, first)).outcome).toBe('done');
    expect((await b.claim(SENDER, last)).outcome).toBe('done');
    expect((await b.claim(SENDER, middle)).outcome).toBe('in-doubt');
  });

  it('finish() resolves only once a floor covering the claim is stored (the copy is acknowledged after it)', async () => {
    const a = await open();
    const ids = Array.from({ length: 20 }, (_, i) => id(`d${i}`));
    const claims = await Promise.all(ids.map((m) => claimed(a, m)));
    const numbers = await Promise.all(ids.map((m) => numberOf(a, m)));
    // Finished in one turn: stored by one or two floor writes, each checked the moment its finish resolves.
    const seen = await Promise.all(claims.map((c, i) => c.finish().then(async () => covers(await floorOf(a.processId), numbers[i]!))));
    expect(seen).toEqual(ids.map(() => true));
  });

  it('a released claim is handled again by the next copy, and its number is not left as a hole', async () => {
    const a = await open();
    const [failed, ok] = [id('r1'), id('r2')];
    await (await claimed(a, failed)).release();
    await (await claimed(a, ok)).finish();
    expect((await kv.get(a.keyOf(SENDER, failed)))?.string()).toMatch(/^free \d+$/);
    const again = await a.claim(SENDER, failed);
    expect(again.outcome).toBe('claimed');
    await (again as Claimed).finish();
    expect((await floorOf(a.processId))?.holes).toEqual(new Set());
  });

  it('entries of the per-message era read as before: `done <at>` is done, `claim <at>` (no process) is in doubt; a claim of a process without a floor is in doubt', async () => {
    const b = await open();
    const [done, claim, orphan] = [id('old-done'), id('old-claim'), id('orphan')];
    await kv.put(b.keyOf(SENDER, done), `done ${Date.now()}`);
    await kv.put(b.keyOf(SENDER, claim), `claim ${Date.now()}`);
    await kv.put(b.keyOf(SENDER, orphan), `claim ${Date.now()} gone-process-id 1`);
    expect((await b.claim(SENDER, done)).outcome).toBe('done');
    expect((await b.claim(SENDER, claim)).outcome).toBe('in-doubt');
    expect((await b.claim(SENDER, orphan)).outcome).toBe('in-doubt');
  });

  it('the receiver acknowledges a copy only after a floor written after its handler ran was stored: on the wire, floor write → its PubAck → the ack', async () => {
    const tlsDir = join(fed.trustDir, 'tls');
    const tap = await startNatsTap(fed.server.url, { cert: await readFile(join(tlsDir, 'server.pem'), 'utf8'), key: await readFile(join(tlsDir, 'server-key.pem'), 'utf8'), ca: fed.tls.ca });
    const police = await fed.connect(SENDER);
    const tapped = await fed.connect(RECEIVER, { servers: [tap.url] });
    /** The tap's position when each handler ran (the number the next operation through it gets). */
    const handledAt: number[] = [];
    await tapped.consume(() => void handledAt.push(tap.now()), { types: [TYPE] });
    const acks = () => tap.ops.filter((o) => o.from === 'client' && o.payload === '+ACK');
    try {
      for (let i = 0; i < 3; i++) {
        await police.send(TYPE, { summary: `floor order ${i}`, migrantsCount: 1, assessment: 'ack order' }, { to: RECEIVER });
        await until(() => acks().length === i + 1, 15_000, `the ack of message ${i}`);
      }
      const writes = tap.ops.filter((o) => o.from === 'client' && o.subject.includes('.=floor.'));
      const pubAck = (reply: string | undefined) => tap.ops.find((o) => o.from === 'server' && o.subject === reply)?.order ?? Infinity;
      const order = acks().map((ack, i) => {
        const w = writes.find((x) => x.order >= handledAt[i]! && pubAck(x.reply) < ack.order);
        return { handler: handledAt[i], floorWrite: w?.order, pubAck: w && pubAck(w.reply), ack: ack.order };
      });
      expect(handledAt).toHaveLength(3);
      for (const o of order) expect(o.floorWrite, `a stored floor between handler and ack: ${JSON.stringify(order)}`).toBeDefined();
    } finally {
      await tapped.close();
      await police.close();
      await tap.stop();
    }
  }, 60_000);
});
