/**
 * Stream order at the handler when a pull's copies are lost while the connection stays up (issue 16): copies
 * delivered to a pull the client already gave up on, or whose frames never reached it, are counted delivered by
 * JetStream and sent again only after the consumer's ack wait, while the copies after them are delivered at once to
 * the next pull. No disconnect tells the receiver; its own pull came up short — it never ended (its heartbeats were
 * missed), or the server's end of it counted more copies sent than arrived — and the next copy skips deliveries. The
 * receiver holds the later copies until the lost ones came back, so its handler still sees every copy once, in the
 * order sent — the single-lane loop and the concurrent one alike.
 * Real nats-server; the connection runs through a link (test/support/drop-link.ts) that takes TLS off and drops one
 * pull's frames, the connection left open.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { consumerName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { setConsumerLimits } from './support/consumer-limits.ts';
import { startDropLink, type DropLink } from './support/drop-link.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const N = 300;
/** The receiver's consumer's ack wait here (provisioned 30 s): the lost copies come back after it. */
const ACK_WAIT_MS = 10_000;
/** The receiver's consumer the reports go to (directed to it). */
const DIRECT = consumerName(RECEIVER, TYPE, 'direct');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A receiver consuming through a drop link, and what its handler and its log saw. */
interface Watched {
  receiver: LiaisonClient;
  /** Ids in the order the handler got them. */
  handled: string[];
  /** Where each handled copy was stored and on which delivery it came (for the report of a failure). */
  at: Map<string, string>;
  /** The receiver's log messages: its barrier says when it raised a wall and when one came down by its deadline. */
  log: string[];
  redelivered: () => number;
  disconnects: () => number;
}

describe("a receiver that loses a pull's copies without a disconnect keeps the stream order at its handler", () => {
  let fed: TestFederation;
  let sender: LiaisonClient;
  let round = 0;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'lost-pull-order' });
    sender = await fed.connect(SENDER);
    await setConsumerLimits(fed, RECEIVER, { ackWaitMs: ACK_WAIT_MS }, [TYPE]);
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  /** Send `n` reports of this round; their ids in order. */
  async function send(n: number, from = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) ids.push((await sender.send(TYPE, { summary: `round ${round} copy ${i}`, migrantsCount: i % 50, assessment: 'lost pull order' }, { to: RECEIVER })).id);
    return ids;
  }

  /** Connect the receiver through `link` and consume with a slow handler (copies stay in flight while it pulls). */
  async function watch(link: DropLink, concurrency?: number): Promise<Watched> {
    const log: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void log.push((JSON.parse(line) as { msg: string }).msg) });
    const receiver = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog, servers: [link.url], logger });
    let disconnects = 0;
    void (async () => {
      for await (const s of receiver.nc.status()) if (s.type === 'disconnect') disconnects++;
    })();
    const handled: string[] = [];
    const at = new Map<string, string>();
    let redelivered = 0;
    await receiver.consume(
      async (m) => {
        handled.push(m.header.id);
        at.set(m.header.id, `${m.delivery?.streamSeq}/${m.delivery?.deliveryCount}`);
        if ((m.delivery?.deliveryCount ?? 1) > 1) redelivered++;
        await sleep(8);
      },
      { types: [TYPE], ...(concurrency ? { concurrency } : {}) },
    );
    return { receiver, handled, at, log, redelivered: () => redelivered, disconnects: () => disconnects };
  }

  /** What every scenario requires: the loss happened with the connection up, and the handler saw each copy once, in order. */
  function expectInOrder(w: Watched, link: DropLink, closed: number, sent: string[], what: string): void {
    const first = w.handled.findIndex((id, i) => id !== sent[i]);
    console.info(`[consume-lost-pull-order] ${what}: ${link.droppedCopies()} copies dropped, ${w.redelivered()} came back after their ack wait; pulls ended short: ${w.log.filter((m) => m.startsWith('pull failed') || m.startsWith('a pull ended with fewer')).length}, walls raised: ${w.log.filter((m) => m.startsWith('deliveries were lost')).length}${first >= 0 ? `; out of order from #${first} (stream seq/delivery): ${w.handled.slice(Math.max(0, first - 3), first + 12).map((id) => w.at.get(id)).join(' ')}` : ''}`);
    expect(closed, 'the connection stayed open').toBe(0);
    expect(w.disconnects(), 'the receiver saw no disconnect').toBe(0);
    expect(link.droppedCopies(), 'copies were lost on the way').toBeGreaterThan(0);
    expect(w.redelivered(), 'the lost copies came back after their ack wait').toBeGreaterThanOrEqual(link.droppedCopies());
    expect(w.receiver.stats.rejected, 'nothing refused, none quarantined').toEqual({});
    expect(w.log.filter((m) => m.startsWith('deliveries were lost')).length, 'the receiver saw the deliveries it lost').toBeGreaterThan(0);
    expect(w.log.filter((m) => m.includes('later copies run now')), 'every wall came down once the earlier copies were settled, none by its deadline').toEqual([]);
    expect(w.handled.length, 'every copy handled').toBe(sent.length);
    expect(new Set(w.handled).size, 'none handled twice').toBe(w.handled.length);
    expect(w.handled, 'handled in the order sent').toEqual(sent);
  }

  /** A backlog consumed through a link that drops every frame of one pull mid-stream (the client gives that pull up). */
  async function lostPullMidBacklog(concurrency?: number): Promise<void> {
    round++;
    const sent = await send(N);
    const link = await startDropLink(fed.server.url, fed.trustDir);
    const w = await watch(link, concurrency);
    let closed = -1;
    try {
      await until(() => w.handled.length >= 40, 30_000, 'the first copies to be handled');
      link.armDrop('pull', DIRECT);
      const inbox = await Promise.race([link.dropping, sleep(30_000).then(() => '')]);
      expect(inbox, "a pull's batch was dropped").not.toBe('');
      await until(() => w.handled.length >= N, 30_000 + 3 * ACK_WAIT_MS, 'every copy to be handled');
      await sleep(1_000);
      closed = link.closedConnections();
    } finally {
      await w.receiver.close();
      await link.stop();
    }
    expectInOrder(w, link, closed, sent, concurrency ? `concurrency ${concurrency}` : 'single lane');
  }

  it(`single lane: ${N} copies, a pull's batch lost with the connection open: handled once each, in the order sent`, async () => {
    await lostPullMidBacklog();
  }, 150_000);

  it(`concurrent (concurrency 8): ${N} copies, a pull's batch lost with the connection open: handlers called once each, in the order sent`, async () => {
    await lostPullMidBacklog(8);
  }, 150_000);

  it("a pull that ended at its expiry with its copies lost (the server's end counted them sent): the copies after it wait for them", async () => {
    round++;
    const link = await startDropLink(fed.server.url, fed.trustDir);
    const w = await watch(link);
    const sent: string[] = [];
    let closed = -1;
    try {
      sent.push(...(await send(10)));
      await until(() => w.handled.length >= 10, 30_000, 'the first copies to be handled');
      // The receiver's next pull waits for copies: the next ones sent go to it, and are lost; its heartbeats and its
      // end (at expiry, saying how many of its batch were left) reach the client.
      link.armDrop('copies', DIRECT);
      sent.push(...(await send(5, 10)));
      const inbox = await Promise.race([link.dropping, sleep(30_000).then(() => '')]);
      expect(inbox, "a pull's copies were dropped").not.toBe('');
      await Promise.race([link.pullEnded, sleep(30_000)]);
      sent.push(...(await send(10, 15)));
      await until(() => w.handled.length >= sent.length, 30_000 + 3 * ACK_WAIT_MS, 'every copy to be handled');
      await sleep(1_000);
      closed = link.closedConnections();
    } finally {
      await w.receiver.close();
      await link.stop();
    }
    expectInOrder(w, link, closed, sent, 'pull ended at its expiry');
  }, 150_000);
});
