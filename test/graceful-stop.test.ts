/**
 * A receiver that stops hands back what it pulled but did not handle (issue 13): the copies waiting in its
 * process are released at once — negatively acknowledged, their durable claims freed — so the next receiver
 * gets them now, not after the ack wait (30 s), and none comes back "in doubt". Real nats-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stopping receiver hands back what it pulled but did not handle', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'graceful-stop' });
    police = await fed.connect(SENDER);
  }, 60_000);
  afterAll(async () => {
    await police?.close();
    await fed?.stop();
  });

  it('the next receiver gets every copy the stopped one held within seconds (not the 30 s ack wait); each handled once, none in doubt', async () => {
    const sent = new Set<string>();
    for (let i = 0; i < 200; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, k) => police.send(TYPE, { summary: `stop ${i + k}`, migrantsCount: 1, assessment: 'graceful stop' }, { to: RECEIVER })));
      for (const s of batch) sent.add(s.id);
    }
    const handled = new Map<string, number>();
    const count = (m: ReceivedMessage) => void handled.set(m.header.id, (handled.get(m.header.id) ?? 0) + 1);
    const first = await fed.connect(RECEIVER);
    await first.consume(
      async (m) => {
        await sleep(50);
        count(m);
      },
      { types: [TYPE] },
    );
    await until(() => handled.size >= 5, 10_000, 'the first receiver to handle a few');
    const held = first.stats.inFlight ?? 0;
    await first.close();
    const byFirst = handled.size;
    expect(held).toBeGreaterThan(10);
    expect(byFirst).toBeLessThan(sent.size);

    const rejected: string[] = [];
    const second = await fed.connect(RECEIVER);
    const t0 = Date.now();
    await second.consume(count, { types: [TYPE], onReject: (r) => rejected.push(r.code) });
    try {
      await until(() => [...sent].every((id) => handled.has(id)), 8_000, 'every copy handled after the first receiver stopped');
      console.info(`[graceful-stop] first receiver handled ${byFirst}, held ${held} when stopped; the rest handled ${Date.now() - t0} ms after the second started`);
      expect([...handled.values()].every((n) => n === 1)).toBe(true);
      expect(rejected.filter((c) => c === 'ERR_IN_DOUBT')).toEqual([]);
    } finally {
      await second.close();
    }
  }, 60_000);
});
