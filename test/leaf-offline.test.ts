/**
 * Edge nodes (issue 17, part A): an agency's leaf node keeps its sends while the exchange is unreachable and
 * delivers them after reconnect — in order, with their original signatures, none twice — and a leaf widens
 * nothing: the exchange enforces the agency's own permissions on everything that crosses it.
 * Real nats-server processes (hub with a TLS leafnode port, the agency's leaf), real crypto, loopback.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectViaLeaf } from '../services/edge/connect.ts';
import { Forwarder } from '../services/edge/forwarder.ts';
import { startLeaf, type RunningLeaf } from '../services/edge/leaf.ts';
import { ForwarderCursor, OUTBOX_STREAM, outboxSubjects } from '../services/edge/outbox.ts';
import { freePort } from '../services/exchange/nats-process.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { loadAgencyDir } from '../services/sdk/client/identity.ts';
import { LiaisonClient as Client } from '../services/sdk/client/client.ts';
import { createEdgeFederation, type EdgeFederation } from './support/edge.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const VICTIM = 'xa-coast-guard';
const TYPE = 'IntelligenceReport';
const OFFLINE = 1_000;
const report = (i: number) => ({ summary: `vessel sighting ${i}`, migrantsCount: i % 90, assessment: 'leaf test' });

describe('leaf node: offline sends delivered after reconnect, in order, verified, once', () => {
  let fed: EdgeFederation;
  let leaf: RunningLeaf;
  let sender: LiaisonClient;
  let receiver: LiaisonClient;
  /** `<sender> <id>` in the order the receiver's handler got them, and how often each. */
  const handled: string[] = [];
  const counts = new Map<string, number>();
  const createdAt = new Map<string, number>();
  /** Ids in outbox order (the order the agency sent them). */
  const sent: { id: string; seq: number }[] = [];

  beforeAll(async () => {
    fed = await createEdgeFederation({ agencies: [SENDER, RECEIVER, VICTIM] });
    leaf = await startLeaf({ agencyDir: fed.agencyDirs[SENDER]!, port: await freePort(), hubUrl: fed.leafUrl, retryMs: 250 });
    sender = await connectViaLeaf({ agencyDir: fed.agencyDirs[SENDER]!, catalog: fed.catalog });
    receiver = await Client.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog });
    await receiver.consume(
      (m) => {
        const key = `${m.header.sender} ${m.header.id}`;
        handled.push(key);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        createdAt.set(key, m.header.createdAt.getTime());
      },
      { types: [TYPE] },
    );
  }, 60_000);

  afterAll(async () => {
    await sender?.close();
    await receiver?.close();
    await leaf?.stop();
    await fed?.stop();
  });

  async function sendInOrder(n: number, from: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      const receipts = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => sender.send(TYPE, report(from + i + k), { to: RECEIVER })));
      for (const r of receipts) {
        expect(r.copies).toHaveLength(1);
        expect(r.copies[0]!.stream, 'the leaf stores every send in its own outbox').toBe(OUTBOX_STREAM);
        sent.push({ id: `${SENDER} ${r.id}`, seq: r.copies[0]!.seq });
      }
    }
  }

  it('online: the leaf forwards what its agency sends; the receiver verifies it', async () => {
    await sendInOrder(20, 0);
    await until(() => handled.length === 20, 20_000, 'the online sends to arrive');
    expect(leaf.forwarder.stats.forwarded).toBe(20);
    expect(receiver.stats.rejected).toEqual({});
  }, 30_000);

  it(`offline: ${OFFLINE} sends while the hub is stopped are stored on the leaf, readable there, and all delivered after restart — in order, verified, none twice`, async () => {
    await fed.stopHub();
    await until(() => !leaf.forwarder.stats.online, 10_000, 'the forwarder to notice the hub is gone');
    await sendInOrder(OFFLINE, 20);
    // Still offline: the agency reads what it sent from its own JetStream domain.
    const local = await (await jetstreamManager(sender.nc)).streams.info(OUTBOX_STREAM);
    expect(local.state.messages).toBe(20 + OFFLINE);
    expect(handled.length).toBe(20);
    const restartedAt = Date.now();
    await fed.startHub();
    await until(() => handled.length >= 20 + OFFLINE, 90_000, 'the offline backlog to arrive');
    await new Promise((r) => setTimeout(r, 1_000));

    const expected = [...sent].sort((a, b) => a.seq - b.seq).map((s) => s.id);
    expect(handled.length).toBe(expected.length);
    expect(handled, 'delivered in the order the agency sent them').toEqual(expected);
    expect([...counts.values()].filter((c) => c !== 1), 'none handled twice').toEqual([]);
    // Original envelopes: signed while the hub was down, verified by the receiver after it came back.
    const offline = expected.slice(20);
    expect(offline.every((k) => createdAt.get(k)! < restartedAt)).toBe(true);
    expect(receiver.stats.rejected).toEqual({});
    expect(leaf.forwarder.stats.forwarded).toBe(20 + OFFLINE);
    expect(leaf.forwarder.stats.refused).toBe(0);
  }, 180_000);

  it('a forwarder that lost its cursor sends everything again: the exchange drops each copy as a duplicate (same Nats-Msg-Id)', async () => {
    await leaf.forwarder.stop();
    const local = await connect({ servers: leaf.url });
    try {
      await (await ForwarderCursor.open(local)).set(1);
      const identity = await loadAgencyDir(fed.agencyDirs[SENDER]!);
      const again = await Forwarder.start({ agencyId: SENDER, local, servers: [fed.url], creds: identity.creds, ca: identity.ca, retryMs: 250 });
      try {
        expect(await again.drained(60_000)).toBe(true);
        expect(again.stats.duplicates).toBe(20 + OFFLINE);
        expect(again.stats.forwarded).toBe(0);
      } finally {
        await again.stop();
      }
      await new Promise((r) => setTimeout(r, 1_500));
      expect(handled.length).toBe(20 + OFFLINE);
    } finally {
      await local.close();
    }
  }, 90_000);
});
