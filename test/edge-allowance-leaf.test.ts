/**
 * Edge outages longer than the replay window, end to end through leaf nodes (issue 17): two agencies send through
 * their own leaf while the hub is stopped; one has an offline allowance in the policy, the other none. The outage
 * is real (hub's nats-server stopped, restarted on the same store); its length — 2 hours — is the senders' clocks
 * set back 2 h, so their envelopes are signed 2 h before the exchange stores the forwarded copies (the receivers'
 * freshness rule compares the two, as after a real 2-hour outage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connectViaLeaf } from '../services/edge/connect.ts';
import { startLeaf, type RunningLeaf } from '../services/edge/leaf.ts';
import { OUTBOX_STREAM } from '../services/edge/outbox.ts';
import { freePort } from '../services/exchange/nats-process.ts';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { createEdgeFederation, type EdgeFederation } from './support/edge.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';
import { until } from './support/workflows.ts';

const EDGE = 'xa-border-police';
const PLAIN = 'xb-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const PER_SENDER = 50;
const OUTAGE_MS = 2 * 3_600_000;
const report = (i: number) => ({ summary: `sent during the outage ${i}`, migrantsCount: i, assessment: 'leaf allowance test' });

describe('leaf nodes: a 2-hour outage backlog is handled from an agency with an offline allowance, quarantined from one without', () => {
  let fed: EdgeFederation;
  const leaves: RunningLeaf[] = [];
  const senders: Record<string, LiaisonClient> = {};
  let receiver: LiaisonClient;
  /** Both senders' clocks: set back by `lagMs` during the outage. */
  const clock = { lagMs: 0, now: () => Date.now() - clock.lagMs };
  const handled: string[] = [];
  const rejected: Rejection[] = [];

  beforeAll(async () => {
    const policyText = `${readFileSync(EXAMPLE_POLICY, 'utf8')}\nedge:\n  ${EDGE}:\n    offline: 1d\n`;
    fed = await createEdgeFederation({ agencies: [EDGE, PLAIN, RECEIVER], policyText });
    for (const a of [EDGE, PLAIN]) {
      const leaf = await startLeaf({ agencyDir: fed.agencyDirs[a]!, port: await freePort(), hubUrl: fed.leafUrl, retryMs: 250, window: 64 });
      leaves.push(leaf);
      expect(await leaf.linked(15_000)).toBe(true);
      senders[a] = await connectViaLeaf({ agencyDir: fed.agencyDirs[a]!, catalog: fed.catalog, clock });
    }
    receiver = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog });
    await receiver.consume((m) => void handled.push(`${m.header.sender} ${m.header.id}`), { types: [TYPE], onReject: (r) => void rejected.push(r) });
  }, 150_000);

  afterAll(async () => {
    for (const c of Object.values(senders)) await c.close().catch(() => undefined);
    await receiver?.close().catch(() => undefined);
    for (const l of leaves) await l.stop().catch(() => undefined);
    await fed?.stop();
  });

  it(`${PER_SENDER} sends of each while the hub is down, signed 2 h before the link is back: the allowed agency's all handled in order, once; the other's all ERR_REPLAY`, async () => {
    await fed.stopHub();
    await until(() => leaves.every((l) => !l.forwarder.stats.online), 10_000, 'the forwarders to notice the hub is gone');
    const sent: Record<string, string[]> = { [EDGE]: [], [PLAIN]: [] };
    clock.lagMs = OUTAGE_MS;
    try {
      for (let i = 0; i < PER_SENDER; i++) {
        for (const a of [EDGE, PLAIN]) {
          const r = await senders[a]!.send(TYPE, report(i), { to: RECEIVER });
          expect(r.copies[0]!.stream).toBe(OUTBOX_STREAM);
          sent[a]!.push(`${a} ${r.id}`);
        }
      }
    } finally {
      clock.lagMs = 0;
    }
    expect(handled).toEqual([]);
    await fed.startHub();
    await until(() => handled.length + rejected.length >= 2 * PER_SENDER, 90_000, 'the backlog to be handled or refused');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(handled, 'the allowed agency: every copy, in the order sent, once').toEqual(sent[EDGE]);
    expect(rejected).toHaveLength(PER_SENDER);
    expect(new Set(rejected.map((r) => `${r.code} ${r.claimedSender}`))).toEqual(new Set([`ERR_REPLAY ${PLAIN}`]));
    const refusedIds = new Set(rejected.map((r) => `${PLAIN} ${/^message (\S+) of /.exec(r.reason)?.[1]}`));
    expect(refusedIds).toEqual(new Set(sent[PLAIN]));
  }, 180_000);
});
