/**
 * Stream order at the handler across a reconnect (issue 16): when a receiver's connection dies with copies in
 * transit to it, JetStream counts those copies delivered and sends them again only after the consumer's ack wait,
 * while the copies after them are delivered at once on the first pull after the reconnect. The receiver holds the
 * later copies (in process, kept alive) until the earlier ones came back, so its handler still sees every copy once,
 * in the order sent — the single-lane loop and the concurrent one (`concurrency > 1`) alike. A claim whose reply was
 * lost in the cut is the receiver's own, its handler never started: claimed again and handled, none quarantined in
 * doubt; record writes pending at the cut fail with it ("connection lost"), not at their 10 s timeout.
 * Real nats-server; the connection runs through a TCP link (test/support/cut-link.ts) that drops a pull's batch of
 * copies in transit and closes the connection; the receiver reconnects through it.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { setConsumerLimits } from './support/consumer-limits.ts';
import { startCutLink, type CutLink } from './support/cut-link.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const N = 300;
/** The receiver's consumer's ack wait here (provisioned 30 s): the lost copies come back after it. */
const ACK_WAIT_MS = 10_000;
/** A read from the server this large is a pull's batch of copies (a claim's reply or a heartbeat is far smaller). */
const BATCH_BYTES = 8_192;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a receiver whose connection is cut with copies in transit keeps the stream order at its handler', () => {
  let fed: TestFederation;
  let sender: LiaisonClient;
  let round = 0;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'reconnect-order' });
    sender = await fed.connect(SENDER);
    await setConsumerLimits(fed, RECEIVER, { ackWaitMs: ACK_WAIT_MS }, [TYPE]);
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  /** Send a backlog, consume it through a link that drops one pull's batch mid-stream; what the handler saw. */
  async function cutMidBacklog(concurrency?: number) {
    round++;
    const sent: string[] = [];
    for (let i = 0; i < N; i++) sent.push((await sender.send(TYPE, { summary: `round ${round} copy ${i}`, migrantsCount: i % 50, assessment: 'reconnect order' }, { to: RECEIVER })).id);
    const link: CutLink = await startCutLink(fed.server.url);
    /** The receiver's log: its barrier says when it raised a wall and when one came down by its deadline. */
    const log: string[] = [];
    /** Why the receiver's record writes failed (a write pending at the cut fails as the connection drops). */
    const writeFailures: string[] = [];
    const logger = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg: string; err?: string | { message?: string } };
          log.push(entry.msg);
          const err = typeof entry.err === 'string' ? entry.err : entry.err?.message;
          if (err && /handled record|not marked done/.test(entry.msg)) writeFailures.push(err);
        },
      },
    );
    const receiver = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog, servers: [link.url], reconnectWaitMs: 100, logger });
    const handled: string[] = [];
    let redelivered = 0;
    let cutAt = 0;
    let allAt = 0;
    /** Where each handled copy was stored and on which delivery it came (for the report of a failure). */
    const at = new Map<string, string>();
    const inDoubt = () => receiver.stats.rejected.ERR_IN_DOUBT ?? 0;
    try {
      await receiver.consume(
        async (m) => {
          handled.push(m.header.id);
          at.set(m.header.id, `${m.delivery?.streamSeq}/${m.delivery?.deliveryCount}`);
          if ((m.delivery?.deliveryCount ?? 1) > 1) redelivered++;
          // Slow: the loop holds copies pulled and not yet acknowledged, and pulls the next batch mid-stream.
          await sleep(8);
        },
        { types: [TYPE], ...(concurrency ? { concurrency } : {}) },
      );
      await until(() => handled.length >= 40, 30_000, 'the first copies to be handled');
      link.armCut(BATCH_BYTES);
      const dropped = await Promise.race([link.cut, sleep(30_000).then(() => 0)]);
      cutAt = Date.now();
      expect(dropped, 'a batch of copies was dropped in transit').toBeGreaterThanOrEqual(BATCH_BYTES);
      // A claim whose reply was lost in the cut is this process's own, its handler never started: claimed again and
      // handled (handled.ts), not quarantined in doubt.
      await until(() => handled.length + inDoubt() >= N, 30_000 + 3 * ACK_WAIT_MS, 'every copy to be handled');
      allAt = Date.now();
      await sleep(1_000);
    } finally {
      await receiver.close();
      await link.stop();
    }
    const lostConnection = writeFailures.filter((e) => e.startsWith('connection lost')).length;
    console.info(`[consume-reconnect-order] ${concurrency ? `concurrency ${concurrency}` : 'single lane'}: ${redelivered} copies came back after their ack wait, ${inDoubt()} in doubt; ${lostConnection} record writes failed as the connection dropped, ${writeFailures.length - lostConnection} otherwise; all settled ${allAt - cutAt} ms after the cut`);
    expect(receiver.stats.rejected, 'nothing refused, none quarantined in doubt (a claim whose reply was lost is our own)').toEqual({});
    // Writes pending at the cut failed with it, not after waiting out their 10 s timeout with the copy held in progress.
    expect(writeFailures.filter((e) => e.startsWith('no acknowledgement from the exchange')), 'no record write waited out its timeout').toEqual([]);
    expect(log.filter((m) => m.startsWith('deliveries were lost in transit')).length, 'the receiver saw the deliveries it lost').toBeGreaterThan(0);
    expect(log.filter((m) => m.includes('later copies run now')), 'every wall came down once the earlier copies were settled, none by its deadline').toEqual([]);
    const first = handled.findIndex((id, i) => id !== sent[i]);
    if (first >= 0) console.info(`[consume-reconnect-order] out of order from #${first} (stream seq/delivery): ${handled.slice(Math.max(0, first - 3), first + 12).map((id) => at.get(id)).join(' ')}`);
    return { sent, handled, redelivered, quarantined: inDoubt() };
  }

  it(`single lane: ${N} copies, a pull's batch lost in transit and the connection cut: handled once each, in the order sent`, async () => {
    const { sent, handled, redelivered, quarantined } = await cutMidBacklog();
    expect(redelivered, 'the lost copies came back after their ack wait').toBeGreaterThan(0);
    expect(quarantined, 'none quarantined in doubt').toBe(0);
    expect(handled.length, 'every copy handled').toBe(N);
    expect(new Set(handled).size, 'none handled twice').toBe(handled.length);
    expect(handled, 'handled in the order sent').toEqual(sent);
  }, 150_000);

  it(`concurrent (concurrency 8): ${N} copies, a pull's batch lost in transit and the connection cut: handlers called once each, in the order sent`, async () => {
    const { sent, handled, redelivered, quarantined } = await cutMidBacklog(8);
    expect(redelivered, 'the lost copies came back after their ack wait').toBeGreaterThan(0);
    expect(quarantined, 'none quarantined in doubt').toBe(0);
    expect(handled.length, 'every copy handled').toBe(N);
    expect(new Set(handled).size, 'none handled twice').toBe(handled.length);
    expect(handled, 'handlers called in the order sent').toEqual(sent);
  }, 150_000);
});
