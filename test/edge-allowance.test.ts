/**
 * Edge outages longer than the replay window (issue 17): an agency the policy gives an offline allowance
 * (`edge.<agency>.offline`) has its copies accepted up to that long after they were signed — what its leaf node
 * forwards after an outage — while every other sender keeps the default freshness tolerance, and a re-published
 * envelope within the allowance still reaches the handler once (the handled record outlives the allowance).
 *
 * Real nats-server, real signatures, the real freshness rule: how late a copy is stored is made by the sender's own
 * clock (an injected `Clock` set back), which signs `created_at` in the past; JetStream stores it now.
 */
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyPolicy } from '../services/exchange/policy-apply.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { REPLAY_TOLERANCE_MS } from '../services/sdk/client/freshness.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import type { Clock } from '../services/sdk/clock.ts';
import { MAX_CLOCK_SKEW_MS } from '../services/sdk/envelope/open.ts';
import type { SealedMessage } from '../services/sdk/envelope/seal.ts';
import { QUARANTINE_STREAM, quarantineSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, EXAMPLE_POLICY, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const EDGE = 'xa-border-police';
const PLAIN = 'xb-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The example policy's longest retention (documents, legal: 3650d). */
const LONGEST_RETENTION_MS = 3650 * DAY;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `<code> <sender> <id>` of each refusal (an ERR_REPLAY reason reads "message <id> of <sender> …"). */
const refusals = (rs: Rejection[]) => rs.map((x) => `${x.code} ${x.claimedSender} ${/^message (\S+) of /.exec(x.reason)?.[1]}`);
const report = (i: number) => ({ summary: `patrol boat report ${i}`, migrantsCount: i, assessment: 'sent while the link was down' });
const withEdge = (offline: string) => `${readFileSync(EXAMPLE_POLICY, 'utf8')}\nedge:\n  ${EDGE}:\n    offline: ${offline}\n`;

/** A clock set back by `lagMs` (what a leaf's sender signed `lagMs` before the copy reaches JetStream). */
function laggingClock(): Clock & { lagMs: number } {
  const c = { lagMs: 0, now: () => Date.now() - c.lagMs };
  return c;
}

describe('edge nodes: an offline allowance in the policy (issue 17)', () => {
  let fed: TestFederation;
  let edge: LiaisonClient;
  let plain: LiaisonClient;
  const edgeClock = laggingClock();
  const plainClock = laggingClock();

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [EDGE, PLAIN, RECEIVER], name: 'edge-allowance', policyText: withEdge('7d') });
    edge = await fed.connect(EDGE, { clock: edgeClock });
    plain = await fed.connect(PLAIN, { clock: plainClock });
  }, 120_000);
  /** Receivers of the running test: closed after it, so a failed test leaves no loop taking the next test's copies. */
  const open: LiaisonClient[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await fed?.stop();
  });

  async function receiver() {
    const client = await fed.connect(RECEIVER);
    open.push(client);
    const handled: string[] = [];
    const rejected: Rejection[] = [];
    await client.consume((m) => void handled.push(`${m.header.sender} ${m.header.id}`), { types: [TYPE], onReject: (r) => void rejected.push(r) });
    return { client, handled, rejected };
  }

  /** Seal a report as signed `lagMs` ago by `who`. */
  function sealLate(who: LiaisonClient, clock: { lagMs: number }, lagMs: number, i: number): SealedMessage {
    clock.lagMs = lagMs;
    try {
      return who.seal(TYPE, report(i), { to: RECEIVER });
    } finally {
      clock.lagMs = 0;
    }
  }

  /** Publish a sealed copy again as its sender, without Nats-Msg-Id (JetStream's duplicate window cannot catch it). */
  async function republish(agency: string, sealed: SealedMessage): Promise<void> {
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs[agency]!, agency);
    const copy = sealed.copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) if (k.toLowerCase() !== 'nats-msg-id') h.set(k, v);
    raw.nc.publish(copy.subject, copy.data, { headers: h });
    await raw.nc.flush();
    await raw.close();
  }

  /** The reasons of the receiver's quarantine records with this code (an ERR_REPLAY reason names the message id and sender). */
  async function quarantined(code: string): Promise<string[]> {
    const out: string[] = [];
    const info = await (await jetstreamManager(fed.exchange.admin)).streams.info(QUARANTINE_STREAM);
    if (info.state.messages === 0) return out;
    const consumer = await jetstream(fed.exchange.admin).consumers.get(QUARANTINE_STREAM);
    for await (const m of await consumer.fetch({ max_messages: 10_000, expires: 2_000 })) {
      if (m.subject === quarantineSubject(RECEIVER) && m.headers?.get('liaison-reject-code') === code) out.push(m.headers.get('liaison-reject-reason'));
      if (m.info.pending === 0) break;
    }
    return out;
  }

  /** Max age of the receiver's handled bucket as provisioned on the server. */
  async function handledMaxAgeOnServer(): Promise<number> {
    const info = await (await jetstreamManager(fed.exchange.admin)).streams.info(`KV_${RECEIVER}_handled`);
    return info.config.max_age / 1_000_000;
  }

  it('a copy stored 2 h after it was signed (past the default tolerance) is handled once when its sender has a 7d allowance, and refused as ERR_REPLAY from a sender without one', async () => {
    const lateMs = 2 * HOUR;
    expect(lateMs).toBeGreaterThan(REPLAY_TOLERANCE_MS);
    const r = await receiver();
    const fromEdge = sealLate(edge, edgeClock, lateMs, 1);
    const fromPlain = sealLate(plain, plainClock, lateMs, 2);
    await edge.publishSealed(fromEdge);
    await plain.publishSealed(fromPlain);
    await until(() => r.handled.length + r.rejected.length >= 2, 15_000, 'both copies to be handled or refused');
    expect(r.handled).toEqual([`${EDGE} ${fromEdge.id}`]);
    expect(refusals(r.rejected)).toEqual([`ERR_REPLAY ${PLAIN} ${fromPlain.id}`]);
    const names = (reasons: string[], id: string, sender: string) => reasons.some((x) => x.startsWith(`message ${id} of ${sender} `));
    for (let i = 0; i < 40 && !names(await quarantined('ERR_REPLAY'), fromPlain.id, PLAIN); i++) await sleep(250);
    expect(names(await quarantined('ERR_REPLAY'), fromPlain.id, PLAIN)).toBe(true);
    expect(names(await quarantined('ERR_REPLAY'), fromEdge.id, EDGE)).toBe(false);
    await r.client.close();
  }, 60_000);

  it('a copy stored later than the allowance (10 days after signing, allowance 7d) is refused as ERR_REPLAY', async () => {
    const r = await receiver();
    const tooOld = sealLate(edge, edgeClock, 10 * DAY, 3);
    await edge.publishSealed(tooOld);
    await until(() => r.rejected.length > 0, 15_000, 'the too-old copy to be refused');
    expect(refusals(r.rejected)).toEqual([`ERR_REPLAY ${EDGE} ${tooOld.id}`]);
    expect(r.handled).toEqual([]);
    await r.client.close();
  }, 60_000);

  it('a re-published copy within the allowance, after the receiver restarted, is not handled twice: the handled record outlives the allowance', async () => {
    // The record is kept for the longest retention + the largest allowance + a day: a copy re-published at the
    // allowance's end and read at its stream's retention's end still finds its entry. Not waited for: read on the server.
    expect(await handledMaxAgeOnServer()).toBeGreaterThanOrEqual(LONGEST_RETENTION_MS + 7 * DAY + MAX_CLOCK_SKEW_MS + REPLAY_TOLERANCE_MS);
    const sealed = sealLate(edge, edgeClock, 3 * DAY, 4);
    const key = `${EDGE} ${sealed.id}`;
    const first = await receiver();
    await edge.publishSealed(sealed);
    await until(() => first.handled.includes(key), 15_000, 'the original');
    await first.client.close();
    const second = await receiver();
    await republish(EDGE, sealed);
    await until(() => second.client.stats.duplicates === 1, 15_000, 'the re-published copy to be recognised');
    expect(second.handled).toEqual([]);
    expect(second.rejected).toEqual([]);
    await second.client.close();
  }, 60_000);

  it('a policy apply that lengthens the allowance lengthens the handled record on the server, and receivers accept what it newly covers', async () => {
    const before = await handledMaxAgeOnServer();
    await applyPolicy({
      trustDir: fed.trustDir,
      policyText: withEdge('30d'),
      catalog: typeCatalogOf(fed.catalog),
      url: fed.server.url,
      admin: fed.exchange.admin,
      pushDirectory: () => fed.exchange.directory.refresh(),
    });
    expect(await handledMaxAgeOnServer()).toBe(before + 23 * DAY);
    const r = await receiver();
    await until(() => r.client.policy.edge?.[EDGE]?.offlineMs === 30 * DAY, 10_000, 'the receiver to enforce the new policy');
    const tenDays = sealLate(edge, edgeClock, 10 * DAY, 5);
    await edge.publishSealed(tenDays);
    await until(() => r.handled.length + r.rejected.length > 0, 15_000, 'the 10-day-old copy to be handled or refused');
    expect(r.handled).toEqual([`${EDGE} ${tenDays.id}`]);
    expect(r.rejected).toEqual([]);
    await r.client.close();
  }, 120_000);
});
