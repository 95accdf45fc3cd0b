/**
 * What a handled record holds on its connection lives as long as the record, not as long as the connection (issue 16).
 * A handled record follows its connection's status twice (its ReadGate: reads that fail at a drop; its RecordWriter:
 * writes that fail at a drop) and keeps a subscription for its writes' acknowledgements. The quarantine replay opened
 * one record per replica per replay on the agency's long-lived connection and never closed it: each replay left two
 * status listeners (every status event of the connection pushed to each, for ever) and a subscription behind — growth
 * without bound in a long-running process. Counted on the real nats.js connection after N replays, and after N opens
 * and closes of a record.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { HandledRecord } from '../services/sdk/client/handled.ts';
import { replayQuarantined } from '../services/sdk/client/quarantine-replay.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { systemClock } from '../services/sdk/clock.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const REPLAYS = 4;
const OPENS = 20;

/** nats.js's own bookkeeping of a connection: the status iterators it pushes every event to, and its subscriptions. */
interface Held {
  statusListeners: number;
  subscriptions: number;
}
function heldBy(nc: NatsConnection): Held {
  const p = (nc as unknown as { protocol: { listeners: unknown[]; subscriptions: { size(): number } } }).protocol;
  return { statusListeners: p.listeners.length, subscriptions: p.subscriptions.size() };
}

/**
 * What `nc` holds once it is back at `baseline`, or, if it never gets back within a generous bound, what it holds then
 * (a stopped iterator leaves nats.js's list a turn or two after its stop).
 */
async function settledHeld(nc: NatsConnection, baseline: Held): Promise<Held> {
  const same = () => JSON.stringify(heldBy(nc)) === JSON.stringify(baseline);
  await until(same, 10_000, 'the connection back at its baseline').catch(() => undefined);
  return heldBy(nc);
}

/** What `nc` holds once two looks 100 ms apart agree (a baseline: iterators stopped just before have left the list). */
async function steadyHeld(nc: NatsConnection): Promise<Held> {
  let last = JSON.stringify(heldBy(nc));
  await until(async () => {
    await new Promise((r) => setTimeout(r, 100));
    const now = JSON.stringify(heldBy(nc));
    const same = now === last;
    last = now;
    return same;
  }, 10_000, 'the connection steady');
  return heldBy(nc);
}

describe('a handled record holds its connection only while it is open (issue 16)', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'read-gate-lifetime' });
  }, 60_000);
  afterAll(async () => fed?.stop());

  it(`${REPLAYS} quarantine replays on one connection leave no status listener or subscription behind`, async () => {
    const police = await fed.connect(SENDER);
    const ids: string[] = [];
    try {
      for (let i = 0; i <= REPLAYS; i++) ids.push((await police.send(TYPE, { summary: `in doubt ${i}`, migrantsCount: 1, assessment: 'read gate lifetime' }, { to: RECEIVER })).id);
    } finally {
      await police.close();
    }
    // What a SIGKILL between a handler and its done mark leaves: a claim never covered. Each copy is quarantined in doubt.
    const kv = await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`);
    for (const id of ids) await kv.create(`${SENDER}.${id}`, `claim ${Date.now()}`);
    const receiver = await fed.connect(RECEIVER);
    try {
      await receiver.consume((m: ReceivedMessage) => void m, { types: [TYPE] });
      await until(() => (receiver.stats.rejected.ERR_IN_DOUBT ?? 0) === ids.length, 20_000, 'every copy quarantined in doubt');
    } finally {
      await receiver.close();
    }

    const host: LiaisonClient = await fed.connect(RECEIVER);
    try {
      const replay = async (id: string) => {
        const r = await replayQuarantined(host, { id, sender: SENDER });
        expect(r.replayed.map((c) => c.id), 'each replay re-opens its entry (so it looks its record up)').toEqual([id]);
      };
      // A first replay: what any first request sets up on the connection (nats.js's request subscription) is the baseline.
      await replay(ids[0]!);
      const baseline = await steadyHeld(host.nc);
      for (const id of ids.slice(1)) await replay(id);
      const after = await settledHeld(host.nc, baseline);
      console.info(`[read-gate-lifetime] replays: ${JSON.stringify(baseline)} before, ${JSON.stringify(after)} after ${REPLAYS} replays`);
      expect(after, `the connection holds what it held before ${REPLAYS} replays`).toEqual(baseline);
    } finally {
      await host.close();
    }
  }, 90_000);

  it(`${OPENS} opens and closes of a handled record on one connection leave nothing behind; an open one follows the connection`, async () => {
    const host = await fed.connect(RECEIVER);
    try {
      // A first open and close: what any first request sets up on the connection is the baseline.
      (await HandledRecord.open(host.nc, host.id, { clock: systemClock, replica: 1 })).close();
      const baseline = await steadyHeld(host.nc);
      const open = await HandledRecord.open(host.nc, host.id, { clock: systemClock, replica: 1 });
      const opened = heldBy(host.nc);
      // Control: an open record does follow the connection (its gate and its writer), and writes on a subscription.
      expect(opened, 'an open record follows the connection and holds its acknowledgement subscription').toEqual({ statusListeners: baseline.statusListeners + 2, subscriptions: baseline.subscriptions + 1 });
      open.close();
      for (let i = 2; i < OPENS; i++) (await HandledRecord.open(host.nc, host.id, { clock: systemClock, replica: 1 + (i % 3) })).close();
      const after = await settledHeld(host.nc, baseline);
      console.info(`[read-gate-lifetime] records: ${JSON.stringify(baseline)} before, ${JSON.stringify(after)} after ${OPENS} opens and closes`);
      expect(after, `the connection holds what it held before ${OPENS} records were opened and closed`).toEqual(baseline);
    } finally {
      await host.close();
    }
  }, 60_000);
});
