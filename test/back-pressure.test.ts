/**
 * Back-pressure and dead letters in the SDK consumer (issue 13): a receiver holds a bounded number of
 * copies in process, a slow but live handler's copies are not redelivered, and a copy that cannot be
 * handled ends in the agency's quarantine as ERR_DEAD_LETTER instead of being dropped silently by
 * JetStream at max_deliver. Real nats-server, real federation.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { MAX_IN_FLIGHT } from '../services/sdk/client/consume.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { QUARANTINE_STREAM, quarantineSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { codeOfAsync } from './support/outcome.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
/** The receiver's consumers in these tests: a short ack wait and a low delivery limit (provisioned: 30 s, 20). */
const ACK_WAIT_MS = 1_000;
const MAX_DELIVER = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (summary: string) => ({ summary, migrantsCount: 1, assessment: 'back-pressure test' });

interface Quarantined {
  code: string;
  sender?: string;
  id?: string;
  deliveryCount?: string;
}

/** What the receiver's quarantine holds (reject code, sender, id, delivery count headers). */
async function quarantined(fed: TestFederation): Promise<Quarantined[]> {
  const out: Quarantined[] = [];
  const info = await (await jetstreamManager(fed.exchange.admin)).streams.info(QUARANTINE_STREAM);
  if (info.state.messages === 0) return out;
  const consumer = await jetstream(fed.exchange.admin).consumers.get(QUARANTINE_STREAM);
  const batch = await consumer.fetch({ max_messages: 10_000, expires: 2_000 });
  for await (const m of batch) {
    if (m.subject === quarantineSubject(RECEIVER)) {
      const h = (n: string) => m.headers?.get(n) || undefined;
      out.push({ code: h('liaison-reject-code') ?? '', sender: h('liaison-sender'), id: h('liaison-msg-id'), deliveryCount: h('liaison-delivery-count') });
    }
    if (m.info.pending === 0) break;
  }
  return out;
}

/** Send `n` reports to the receiver (stored in JetStream before anyone consumes); their `<sender> <id>` keys. */
async function store(police: LiaisonClient, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const sent = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => police.send(TYPE, report(`${label} ${i + k}`), { to: RECEIVER })));
    for (const s of sent) ids.push(`${SENDER} ${s.id}`);
  }
  return ids;
}

describe('back-pressure and dead letters in the SDK consumer (issue 13)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  /** The receiver's consumers of TYPE: nothing waiting or unacknowledged in any of them. */
  let settled: () => Promise<boolean>;
  let specs: { stream: string; name: string }[];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'back-pressure' });
    police = await fed.connect(SENDER);
    const probe = await fed.connect(RECEIVER);
    specs = probe.consumerSpecs([TYPE]);
    await probe.close();
    const jsm = await jetstreamManager(fed.exchange.admin);
    for (const c of specs) await jsm.consumers.update(c.stream, c.name, { ack_wait: ACK_WAIT_MS * 1_000_000, max_deliver: MAX_DELIVER });
    settled = async () => {
      for (const c of specs) {
        const ci = await jsm.consumers.info(c.stream, c.name);
        if (ci.num_pending > 0 || ci.num_ack_pending > 0) return false;
      }
      return true;
    };
  }, 60_000);
  afterAll(async () => {
    await police?.close();
    await fed?.stop();
  });

  it('a slow receiver behind a short ack wait and a low delivery limit, stopped and replaced, loses nothing: every message handled once or quarantined', async () => {
    const ids = await store(police, 300, 'slow');
    const counts = new Map<string, number>();
    const count = (m: ReceivedMessage) => {
      const k = `${m.header.sender} ${m.header.id}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    };
    // A slow receiver (40 ms a message: 12 s for the lot) runs for longer than max_deliver × ack wait, then stops.
    const slow = await fed.connect(RECEIVER);
    const redelivered: number[] = [];
    await slow.consume(
      async (m: ReceivedMessage) => {
        const n = m.delivery?.deliveryCount ?? 1;
        if (n > 1) redelivered.push(n);
        await sleep(40);
        count(m);
      },
      { types: [TYPE] },
    );
    await sleep((MAX_DELIVER + 2) * ACK_WAIT_MS);
    const highWater = slow.stats.inFlightHighWater;
    const slowDuplicates = slow.stats.duplicates;
    await slow.close();
    // Its replacement takes what is left in JetStream.
    const next = await fed.connect(RECEIVER);
    await next.consume(count, { types: [TYPE] });
    try {
      let q: Quarantined[] = [];
      const accounted = () => ids.every((k) => counts.has(k) || q.some((x) => `${x.sender} ${x.id}` === k));
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(accounted() && (await settled()))) {
        await sleep(500);
        q = await quarantined(fed);
      }
      await sleep(2 * ACK_WAIT_MS); // any redelivery still to come would show now
      q = await quarantined(fed);
      const inQuarantine = new Set(q.map((x) => `${x.sender} ${x.id}`));
      const lost = ids.filter((k) => !counts.has(k) && !inQuarantine.has(k));
      const twice = [...counts].filter(([, n]) => n > 1);
      console.info(
        `[back-pressure] ${ids.length} stored: ${counts.size} handled, ${q.filter((x) => x.code === 'ERR_DEAD_LETTER').length} dead-lettered, ${q.filter((x) => x.code === 'ERR_IN_DOUBT').length} in doubt, ${lost.length} lost, ${twice.length} twice; the slow receiver held at most ${highWater}`,
      );
      expect(lost).toEqual([]);
      expect(twice).toEqual([]);
      // The slow receiver's copies waiting in process were kept alive (working), none timed out and came back to it.
      expect(redelivered).toEqual([]);
      expect(slowDuplicates).toBe(0);
      expect(await settled()).toBe(true);
    } finally {
      await next.close();
    }
  }, 90_000);

  it(`a receiver facing a backlog much larger than its in-flight limit (${MAX_IN_FLIGHT}) never holds more than the limit in process`, async () => {
    const ids = await store(police, 12 * MAX_IN_FLIGHT, 'backlog');
    const receiver = await fed.connect(RECEIVER);
    const handled = new Set<string>();
    await receiver.consume(
      async (m: ReceivedMessage) => {
        await sleep(1);
        handled.add(`${m.header.sender} ${m.header.id}`);
      },
      { types: [TYPE] },
    );
    try {
      await until(() => ids.every((k) => handled.has(k)), 60_000, 'the backlog to be handled');
      console.info(`[back-pressure] backlog of ${ids.length}: in process at most ${receiver.stats.inFlightHighWater} (limit ${MAX_IN_FLIGHT})`);
      expect(receiver.stats.inFlightHighWater).toBeGreaterThan(0);
      expect(receiver.stats.inFlightHighWater).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    } finally {
      await receiver.close();
    }
  }, 90_000);

  it('a consumer given maxInFlight 8 holds at most 8 copies in process from a backlog twelve times that', async () => {
    const limit = 8;
    const ids = await store(police, 12 * limit, 'limit 8');
    const receiver = await fed.connect(RECEIVER);
    const handled = new Set<string>();
    await receiver.consume(
      async (m: ReceivedMessage) => {
        await sleep(1);
        handled.add(`${m.header.sender} ${m.header.id}`);
      },
      { types: [TYPE], maxInFlight: limit },
    );
    try {
      await until(() => ids.every((k) => handled.has(k)), 60_000, 'the backlog to be handled');
      console.info(`[back-pressure] backlog of ${ids.length} with maxInFlight ${limit}: in process at most ${receiver.stats.inFlightHighWater}`);
      expect(receiver.stats.inFlightHighWater).toBeGreaterThan(1);
      expect(receiver.stats.inFlightHighWater).toBeLessThanOrEqual(limit);
    } finally {
      await receiver.close();
    }
  }, 90_000);

  it('maxInFlight is an integer from 1 to 1024: anything else is refused with ERR_USAGE before a consumer starts', async () => {
    const receiver = await fed.connect(RECEIVER);
    try {
      const tried = async (maxInFlight: unknown) => codeOfAsync(receiver.consume(() => undefined, { types: [TYPE], maxInFlight: maxInFlight as number }));
      const refused = [0, -1, 1025, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '8'];
      expect(await Promise.all(refused.map(tried))).toEqual(refused.map(() => 'ERR_USAGE'));
      expect(receiver.stats.inFlightHighWater).toBeUndefined(); // no loop was started
      expect(await tried(1)).toBe('accepted');
      expect(await tried(1024)).toBe('accepted');
    } finally {
      await receiver.close();
    }
  }, 30_000);

  it('a receiver closed while its pulls wait stops at once: the pull is cancelled, not waited out', async () => {
    const receiver = await fed.connect(RECEIVER);
    await receiver.consume(() => undefined, { types: [TYPE] });
    await sleep(300); // the loops are waiting in their first pulls
    const t0 = Date.now();
    await receiver.close();
    const ms = Date.now() - t0;
    console.info(`[back-pressure] close took ${ms} ms`);
    expect(ms).toBeLessThan(800);
  }, 30_000);

  it('a handler running three ack waits long extends its deadline: its copy is not redelivered, handled once, not dead-lettered', async () => {
    const [key] = await store(police, 1, 'long handler');
    const receiver = await fed.connect(RECEIVER);
    const deliveries: number[] = [];
    await receiver.consume(
      async (m: ReceivedMessage) => {
        deliveries.push(m.delivery?.deliveryCount ?? 0);
        await sleep(3 * ACK_WAIT_MS);
      },
      { types: [TYPE] },
    );
    try {
      await until(() => receiver.stats.received === 1, 15_000, 'the long handler to finish');
      await sleep(2 * ACK_WAIT_MS); // a redelivery would arrive now
      expect(key).toBeDefined();
      expect(deliveries).toEqual([1]);
      // Not redelivered at all (a redelivered copy would be acknowledged as a duplicate, never reaching the handler).
      expect(receiver.stats.duplicates).toBe(0);
      expect(receiver.stats.rejected.ERR_DEAD_LETTER).toBeUndefined();
      expect(await settled()).toBe(true);
    } finally {
      await receiver.close();
    }
  }, 30_000);

  it('a copy whose earlier deliveries all timed out unsettled arrives for the last time: dead-lettered, not left for JetStream to drop', async () => {
    const [key] = await store(police, 1, 'timed out');
    // Three deliveries taken and never settled (as by receivers that died holding it), each left to its ack wait.
    const admin = jetstream(fed.exchange.admin);
    for (let i = 1; i < MAX_DELIVER; i++) {
      let taken = 0;
      for (const c of specs) {
        const batch = await (await admin.consumers.get(c.stream, c.name)).fetch({ max_messages: 1, expires: 2 * ACK_WAIT_MS });
        for await (const m of batch) {
          expect(m.info.deliveryCount).toBe(i);
          taken++;
        }
      }
      expect(taken).toBe(1);
    }
    const receiver = await fed.connect(RECEIVER);
    let handled = 0;
    await receiver.consume(() => void handled++, { types: [TYPE] });
    try {
      await until(() => (receiver.stats.rejected.ERR_DEAD_LETTER ?? 0) > 0, 15_000, 'the timed-out copy to be dead-lettered');
      const dead = (await quarantined(fed)).filter((q) => `${q.sender} ${q.id}` === key);
      expect(dead).toEqual([{ code: 'ERR_DEAD_LETTER', sender: SENDER, id: key!.split(' ')[1], deliveryCount: String(MAX_DELIVER) }]);
      expect(handled).toBe(0);
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !(await settled())) await sleep(200);
      expect(await settled()).toBe(true);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  for (const atMostOnce of [true, false]) {
    it(`a copy whose handler always throws ends in quarantine as ERR_DEAD_LETTER below max_deliver, and the next messages are handled (${atMostOnce ? 'durable record' : 'in-memory'})`, async () => {
      const [poison] = await store(police, 1, `poison ${atMostOnce}`);
      const after = await store(police, 5, `after poison ${atMostOnce}`);
      const receiver = await fed.connect(RECEIVER, { atMostOnce });
      const handled = new Set<string>();
      let attempts = 0;
      await receiver.consume(
        (m: ReceivedMessage) => {
          const k = `${m.header.sender} ${m.header.id}`;
          if (k === poison) {
            attempts++;
            throw new Error('this handler cannot process the poison message');
          }
          handled.add(k);
        },
        { types: [TYPE] },
      );
      try {
        await until(() => after.every((k) => handled.has(k)), 20_000, 'the messages behind the poison one to be handled');
        await until(() => (receiver.stats.rejected.ERR_DEAD_LETTER ?? 0) > 0, 20_000, 'the poison message to be dead-lettered');
        const dead = (await quarantined(fed)).filter((q) => q.code === 'ERR_DEAD_LETTER' && `${q.sender} ${q.id}` === poison);
        expect(dead).toEqual([{ code: 'ERR_DEAD_LETTER', sender: SENDER, id: poison!.split(' ')[1], deliveryCount: String(MAX_DELIVER - 1) }]);
        expect(attempts).toBe(MAX_DELIVER - 1);
        expect(receiver.stats.rejected.ERR_DEAD_LETTER).toBe(1);
        // Terminated, not left to JetStream: nothing of the receiver's is waiting or unacknowledged.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline && !(await settled())) await sleep(200);
        expect(await settled()).toBe(true);
      } finally {
        await receiver.close();
      }
    }, 60_000);
  }
});
