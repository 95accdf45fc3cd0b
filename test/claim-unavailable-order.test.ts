/**
 * A copy whose durable claim cannot be written for a moment (the handled record unreachable: a hub restarting, a
 * bucket's leader being elected) waits for the record at its place in the stream, kept alive, instead of being handed
 * back to JetStream with a delay while the copies behind it overtake it. Issue 16/17's failure mode: after a hub
 * outage mid-backlog a block of copies arrived after the rest (leaf-offline, 1 run in 3). Real nats-server; the
 * receiver's handled bucket is made unreachable by moving its stream's subjects away and back (its data kept).
 */
import { jetstreamManager, type StreamConfig } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { HANDLED_BUCKET } from '../services/sdk/policy/index.ts';
import { bucketName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const N = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('claims waiting for an unreachable handled record keep the stream order', () => {
  let fed: TestFederation;
  let sender: LiaisonClient;
  let receiver: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'claim-order' });
    sender = await fed.connect(SENDER);
    receiver = await fed.connect(RECEIVER);
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it(`${N} copies, the record unreachable for 1.5 s mid-stream: handled in the order sent, each once`, async () => {
    const jsm = await jetstreamManager(fed.exchange.admin);
    const stream = `KV_${bucketName(RECEIVER, HANDLED_BUCKET)}`;
    const original = (await jsm.streams.info(stream)).config;
    const sent: string[] = [];
    for (let i = 0; i < N; i++) sent.push((await sender.send(TYPE, { summary: `order ${i}`, migrantsCount: i % 50, assessment: 'claim order' }, { to: RECEIVER })).id);
    const handled: string[] = [];
    let cut = false;
    await receiver.consume(
      async (m) => {
        handled.push(m.header.id);
        // Slow enough that the cut falls mid-stream, with claims taken ahead of the handler.
        await sleep(5);
      },
      { types: [TYPE] },
    );
    await until(() => handled.length >= 60, 30_000, 'the first copies to be handled');
    const away: Partial<StreamConfig> = { ...original, subjects: [`unreachable.${RECEIVER}.>`] };
    await jsm.streams.update(stream, away);
    cut = true;
    await sleep(1_500);
    await jsm.streams.update(stream, original);
    await until(() => handled.length >= N, 90_000, 'every copy to be handled');
    await sleep(1_000);
    expect(cut).toBe(true);
    expect(handled.length, 'none handled twice').toBe(N);
    expect(new Set(handled).size).toBe(N);
    expect(handled, 'handled in the order sent').toEqual(sent);
    expect(receiver.stats.rejected ?? {}).toEqual({});
  }, 150_000);
});
