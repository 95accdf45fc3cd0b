/**
 * Quarantine replay (issues 12 and 13): an agency lists what waits in its own quarantine and, once its handler
 * is fixed, hands dead-lettered and in-doubt copies to the handler again — the original signed copy, verified
 * again, exactly once — with its own rights only. Real nats-server, real federation, the real CLI commands.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ListedCopy } from '../services/sdk/client/quarantine-entry.ts';
import { listQuarantine, replayQuarantined } from '../services/sdk/client/quarantine-replay.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { quarantineServiceSubject, quarantineSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { setConsumerLimits } from './support/consumer-limits.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
/** The receiver's consumers: a short ack wait and a low delivery limit, so a failing handler dead-letters in seconds. */
const ACK_WAIT_MS = 1_000;
const MAX_DELIVER = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (summary: string) => ({ summary, migrantsCount: 1, assessment: 'quarantine replay test' });

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) });
  return { code, out, err };
}

describe('quarantine replay: dead letters and in-doubt copies handed to the fixed handler once, by the agency alone', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let as: string[];
  /** How many times the handler took each message id. */
  const handled = new Map<string, number>();
  /** Message ids the handler refuses until fixed. */
  const broken = new Set<string>();

  /** A receiver whose handler throws on a broken id, and counts the rest. */
  async function receiver(): Promise<LiaisonClient> {
    const r = await fed.connect(RECEIVER);
    await r.consume(
      (m: ReceivedMessage) => {
        if (broken.has(m.header.id)) throw new Error(`the handler cannot take ${m.header.id} yet`);
        handled.set(m.header.id, (handled.get(m.header.id) ?? 0) + 1);
      },
      { types: [TYPE] },
    );
    return r;
  }

  const recordOf = async (id: string) => (await (await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`)).get(`${SENDER}.${id}`))?.string() ?? '';

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'quarantine-replay' });
    police = await fed.connect(SENDER);
    await setConsumerLimits(fed, RECEIVER, { ackWaitMs: ACK_WAIT_MS, maxDeliver: MAX_DELIVER }, [TYPE]);
    as = ['--as', fed.agencyDirs[RECEIVER]!, '--server', fed.server.url];
  }, 60_000);
  afterAll(async () => {
    await police?.close();
    await fed?.stop();
  });

  it('a handler failing until fixed: dead-lettered, listed, replayed after the fix and handled once; a second replay hands nothing; an unchosen dead letter stays put until --all', async () => {
    const first = await police.send(TYPE, report('poison 1'), { to: RECEIVER });
    const second = await police.send(TYPE, report('poison 2'), { to: RECEIVER });
    const fine = await police.send(TYPE, report('fine'), { to: RECEIVER });
    broken.add(first.id).add(second.id);
    const r = await receiver();
    try {
      await until(() => (r.stats.rejected.ERR_DEAD_LETTER ?? 0) === 2 && handled.get(fine.id) === 1, 20_000, 'both poison messages to be dead-lettered');
      // The released claim of a dead letter is recorded as quarantined: only an operator's replay hands it on.
      expect(await recordOf(first.id)).toMatch(/^quarantined /);

      const list = await cli(['quarantine', 'list', ...as, '-o', 'json']);
      expect(list.code).toBe(0);
      const waiting = JSON.parse(list.out.join('')) as ListedCopy[];
      expect(waiting.map((e) => e.id)).toEqual([first.id, second.id]);
      expect(waiting[0]).toMatchObject({ code: 'ERR_DEAD_LETTER', sender: SENDER, id: first.id, type: TYPE, deliveryCount: MAX_DELIVER - 1, available: true, agency: RECEIVER });
      expect(waiting[0]!.reason).toContain(`the handler cannot take ${first.id} yet`);

      // Fixed. Replay the first only: the consumer is reset to its stream position, so the second and the
      // fine message come by again too — acknowledged by the record (quarantined, done), not handled.
      broken.clear();
      const replay = await cli(['quarantine', 'replay', ...as, '--id', first.id, '--sender', SENDER]);
      expect(replay.err).toEqual([]);
      expect(replay.code).toBe(0);
      await until(() => handled.get(first.id) === 1, 15_000, 'the replayed dead letter to reach the fixed handler');
      await sleep(2_000);
      expect(handled.get(first.id)).toBe(1);
      expect(handled.get(second.id)).toBeUndefined();
      expect(handled.get(fine.id)).toBe(1);

      // A second replay of the same entry: nothing waits under that id, nothing is handed on.
      const again = await cli(['quarantine', 'replay', ...as, '--id', first.id, '--sender', SENDER]);
      expect(again.code).toBe(1);
      await sleep(1_500);
      expect(handled.get(first.id)).toBe(1);
      const after = JSON.parse((await cli(['quarantine', 'list', ...as, '-o', 'json'])).out.join('')) as ListedCopy[];
      expect(after.map((e) => e.id)).toEqual([second.id]);
      const withReplayed = JSON.parse((await cli(['quarantine', 'list', ...as, '-o', 'json', '--replayed'])).out.join('')) as ListedCopy[];
      expect(withReplayed.find((e) => e.id === first.id)?.replayed?.outcome).toBe('replayed');

      // The rest, by reason: the second dead letter, once.
      const all = await cli(['quarantine', 'replay', ...as, '--all', '--reason', 'ERR_DEAD_LETTER']);
      expect(all.code).toBe(0);
      await until(() => handled.get(second.id) === 1, 15_000, 'the second dead letter to be handled');
      await sleep(1_500);
      expect([handled.get(first.id), handled.get(second.id), handled.get(fine.id)]).toEqual([1, 1, 1]);
      expect((await cli(['quarantine', 'replay', ...as, '--all'])).code).toBe(1);
    } finally {
      await r.close();
    }
  }, 90_000);

  it('an in-doubt copy (claimed, never marked done) is replayed by the operator\'s decision: handled once, and not again', async () => {
    const sent = await police.send(TYPE, report('in doubt'), { to: RECEIVER });
    // What a SIGKILL between the handler and its done mark leaves behind: a claim without done.
    await (await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`)).create(`${SENDER}.${sent.id}`, `claim ${Date.now()}`);
    const r = await receiver();
    try {
      await until(() => (r.stats.rejected.ERR_IN_DOUBT ?? 0) === 1, 15_000, 'the in-doubt copy to be quarantined');
      expect(handled.get(sent.id)).toBeUndefined();
      const centre = await fed.connect(RECEIVER);
      try {
        const entry = (await listQuarantine(centre)).find((e) => e.id === sent.id);
        expect(entry).toMatchObject({ code: 'ERR_IN_DOUBT', sender: SENDER, available: true });
        const out = await replayQuarantined(centre, { id: sent.id, sender: SENDER });
        expect(out.replayed.map((e) => e.id)).toEqual([sent.id]);
        await until(() => handled.get(sent.id) === 1, 15_000, 'the in-doubt copy handed to the handler by decision');
        const twice = await replayQuarantined(centre, { id: sent.id, sender: SENDER });
        expect(twice.replayed).toEqual([]);
      } finally {
        await centre.close();
      }
      await sleep(1_500);
      expect(handled.get(sent.id)).toBe(1);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('the consumer reset a replay makes keeps its provisioned settings (an observer keeps its short ack wait and in-flight window)', async () => {
    const centre = await fed.connect(RECEIVER);
    try {
      const observer = centre.consumerSpecs().find((c) => c.scope === 'observe');
      expect(observer).toBeDefined();
      await centre.replayFrom({ [observer!.name]: 1 });
      const ci = await (await jetstreamManager(fed.exchange.admin)).consumers.info(observer!.stream, observer!.name);
      expect([ci.config.ack_wait, ci.config.max_ack_pending]).toEqual([observer!.ackWaitMs * 1_000_000, observer!.maxAckPending]);
    } finally {
      await centre.close();
    }
  });

  it('a malformed replay or list command is a usage error (exit 2) before anything is touched', async () => {
    for (const argv of [
      ['quarantine', 'replay', ...as],
      ['quarantine', 'replay', ...as, '--id', 'x'],
      ['quarantine', 'replay', ...as, '--all', '--id', 'x', '--sender', SENDER],
      ['quarantine', 'replay', ...as, '--id', 'x', '--sender', SENDER, '--reason', 'ERR_DEAD_LETTER'],
      ['quarantine', 'list', ...as, '-o', 'yaml'],
    ]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.join('\n'), argv.join(' ')).toContain('ERR_USAGE');
    }
  });

  it('another agency can neither list nor replay nor mark the receiver\'s quarantine', async () => {
    const sent = await police.send(TYPE, report('poison for the rogue test'), { to: RECEIVER });
    broken.add(sent.id);
    const r = await receiver();
    try {
      await until(() => (r.stats.rejected.ERR_DEAD_LETTER ?? 0) === 1, 20_000, 'the copy to be dead-lettered');
    } finally {
      await r.close();
    }
    // Through the SDK with its own rights: the sender's own quarantine is listed, and the receiver's entry is not in it.
    expect((await listQuarantine(police)).some((e) => e.agency === RECEIVER)).toBe(false);
    expect((await replayQuarantined(police, { id: sent.id, sender: SENDER })).replayed).toEqual([]);
    // With raw nats.js and its own creds: the receiver's listing subject, quarantine subject and handled record are refused.
    const rogue = await RawAgency.connect(fed.server.url, fed.agencyDirs[SENDER]!, SENDER);
    try {
      for (const s of [quarantineServiceSubject(RECEIVER), quarantineSubject(RECEIVER), `LIAISON.API.$KV.${RECEIVER}_handled.${SENDER}.${sent.id}`]) {
        rogue.nc.publish(s, '{}');
        expect(await rogue.refused(s), s).toBe(true);
      }
      // Control: its own listing subject is allowed (and answered).
      const own = JSON.parse((await rogue.nc.request(quarantineServiceSubject(SENDER), '{}', { timeout: 5_000 })).string()) as { ok: boolean; entries: ListedCopy[] };
      expect(own).toEqual({ ok: true, entries: [], more: false });
      expect(rogue.violations.some((v) => v.subject === quarantineServiceSubject(SENDER))).toBe(false);
    } finally {
      await rogue.close();
    }
    // Still waiting in the receiver's quarantine, untouched.
    const centre = await fed.connect(RECEIVER);
    try {
      expect((await listQuarantine(centre)).find((e) => e.id === sent.id)?.replayed).toBeUndefined();
    } finally {
      await centre.close();
    }
  }, 60_000);
});
