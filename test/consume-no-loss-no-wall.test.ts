/**
 * The order barrier stays down when nothing was lost (issue 16): it raises a wall only when a gap in the consumer's
 * delivery sequence follows a disconnect or one of the loop's own pulls ending short (order-barrier.ts). Copies
 * nak'ed by a failing handler come back with the next delivery sequences (no gap); a pull the client gave up with
 * nothing sent to it ends short but the next copy skips nothing; two receivers sharing one consumer see each other's
 * deliveries as gaps, yet neither lost any. In none of these does a receiver say it lost deliveries — a wall there
 * would hold copies for nothing (or, shared, until the other receiver's acks).
 * Real nats-server; the given-up pull through test/support/drop-link.ts ('idle': a waiting pull's frames dropped).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Logger } from '../services/sdk/logging.ts';
import { consumerName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { startDropLink } from './support/drop-link.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The receivers' consumer the reports go to (directed to it). */
const DIRECT = consumerName(RECEIVER, TYPE, 'direct');
/** What the barrier logs when it raises a wall after a loss. */
const WALL = 'deliveries were lost';

/** One message a receiver logged, and the consumer it names (if any). */
interface Entry {
  msg: string;
  consumer?: string;
}

/** A debug logger whose messages land in `log`. */
function recording(log: Entry[]): Logger {
  return pino({ level: 'debug' }, { write: (line: string) => void log.push(JSON.parse(line) as Entry) });
}

/** A pull of the loop ended short: it failed (e.g. its heartbeats missed), or fewer copies came than were sent. */
const isShortPull = (e: Entry) => e.msg.startsWith('pull failed') || e.msg.startsWith('a pull ended with fewer');

/**
 * The walls a receiver raised that no pull of that consumer's loop ending short explains — those of the pull this
 * test gave up on (`givenUp`) do not count: nothing was lost in it. A wall after a short pull elsewhere (the client
 * gave one up on its own under load, and copies went to it) would be a real loss, not this test's subject.
 */
function unexplainedWalls(log: Entry[], givenUp?: string): string[] {
  const consumers = new Set(log.filter((e) => e.msg.startsWith(WALL)).map((e) => e.consumer ?? ''));
  return [...consumers].flatMap((c) => {
    const walls = log.filter((e) => (e.consumer ?? '') === c && e.msg.startsWith(WALL)).length;
    const short = log.filter((e) => (e.consumer ?? '') === c && isShortPull(e)).length - (c === givenUp ? 1 : 0);
    return walls > short ? [`${c}: ${walls} walls, ${short} short pulls`] : [];
  });
}

describe('no loss, no wall: the order barrier holds nothing back in normal operation', () => {
  let fed: TestFederation;
  let sender: LiaisonClient;
  let round = 0;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'no-loss-no-wall' });
    sender = await fed.connect(SENDER);
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  async function send(n: number): Promise<string[]> {
    round++;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await sender.send(TYPE, { summary: `round ${round} copy ${i}`, migrantsCount: i % 50, assessment: 'no loss' }, { to: RECEIVER })).id);
    return ids;
  }

  for (const concurrency of [1, 8]) {
    it(`${concurrency === 1 ? 'single lane' : `concurrency ${concurrency}`}: a handler failing the first delivery of every 10th of the first 100 copies (nak'ed, redelivered while later copies still come): no wall`, async () => {
      const log: Entry[] = [];
      const receiver = await fed.connect(RECEIVER, { logger: recording(log) });
      const handled = new Set<string>();
      const failed = new Set<string>();
      try {
        const sent = await send(300);
        const failing = new Set(sent.filter((_, i) => i < 100 && i % 10 === 0));
        await receiver.consume(
          async (m) => {
            if (failing.has(m.header.id) && !failed.has(m.header.id)) {
              failed.add(m.header.id);
              throw new Error('not this time');
            }
            handled.add(m.header.id);
            // ~3 s for the 300: the nak'ed copies come back (1 s later) amid first deliveries.
            await sleep(10 * concurrency);
          },
          { types: [TYPE], ...(concurrency > 1 ? { concurrency } : {}) },
        );
        await until(() => handled.size >= sent.length, 60_000, 'every copy to be handled');
      } finally {
        await receiver.close();
      }
      expect(failed.size, 'ten copies failed once and came back').toBe(10);
      expect(receiver.stats.rejected, 'nothing refused').toEqual({});
      expect(unexplainedWalls(log), 'no wall raised').toEqual([]);
    }, 90_000);
  }

  it('a waiting pull the client gives up (its heartbeats dropped) with nothing sent to it: the next copies pass, no wall', async () => {
    const link = await startDropLink(fed.server.url, fed.trustDir);
    const log: Entry[] = [];
    const receiver = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog, servers: [link.url], logger: recording(log) });
    const handled: string[] = [];
    let sent: string[] = [];
    try {
      await receiver.consume(
        async (m) => {
          handled.push(m.header.id);
        },
        { types: [TYPE] },
      );
      // A pull of the consumer the copies below go to (the receiver reads its broadcast consumer too).
      link.armDrop('idle', DIRECT);
      const inbox = await Promise.race([link.dropping, sleep(30_000).then(() => '')]);
      expect(inbox, 'a waiting pull was picked').not.toBe('');
      // The client gives the pull up (heartbeats missed, ≥ 2 s after it asked) and pulls again; once that next pull's
      // first heartbeat (1 s on) came, the server's 2 s expiry has ended the given-up pull: nothing can reach it now.
      await until(() => log.some((e) => e.consumer === DIRECT && e.msg.startsWith('pull failed')), 30_000, 'the client to give the pull up');
      const beats = link.passedHeartbeats();
      await until(() => link.passedHeartbeats() > beats, 30_000, "the next pull's first heartbeat");
      sent = await send(20);
      await until(() => handled.length >= sent.length, 30_000, 'every copy to be handled');
    } finally {
      await receiver.close();
      await link.stop();
    }
    expect(link.droppedCopies(), 'nothing was lost').toBe(0);
    expect(handled, 'handled in the order sent').toEqual(sent);
    expect(unexplainedWalls(log, DIRECT), 'no wall raised for the pull given up').toEqual([]);
  }, 90_000);

  it('two receivers sharing one consumer (each sees the other\'s deliveries as gaps): every copy handled once, no wall', async () => {
    const logs: Entry[][] = [[], []];
    const receivers = [await fed.connect(RECEIVER, { logger: recording(logs[0]!) }), await fed.connect(RECEIVER, { logger: recording(logs[1]!) })];
    const handled: string[] = [];
    const by = [0, 0];
    let sent: string[] = [];
    try {
      for (const [i, r] of receivers.entries()) {
        await r.consume(
          async (m) => {
            handled.push(m.header.id);
            by[i]!++;
            await sleep(5);
          },
          { types: [TYPE] },
        );
      }
      sent = await send(300);
      await until(() => handled.length >= sent.length, 60_000, 'every copy to be handled');
      await sleep(500);
    } finally {
      for (const r of receivers) await r.close();
    }
    console.info(`[consume-no-loss-no-wall] shared consumer: ${by[0]} and ${by[1]} copies handled by the two receivers`);
    expect(Math.min(...by), 'both receivers took part').toBeGreaterThan(0);
    expect(new Set(handled).size, 'none handled twice').toBe(handled.length);
    expect([...handled].sort(), 'every copy handled').toEqual([...sent].sort());
    for (const [i, log] of logs.entries()) expect(unexplainedWalls(log), `receiver ${i + 1}: no wall raised`).toEqual([]);
  }, 90_000);
});
