/**
 * Bridge outages longer than the replay window (issue 17): an agreement's `outage: 24h` (signed by both roots) lets
 * a receiver accept a copy of the other federation's agencies stored up to that long after it was signed — what a
 * bridge republishes after being down — while a later one is still refused as a replay (ERR_REPLAY), and copies of
 * the receiver's own federation keep the default tolerance. The key is validated like a policy's edge allowance.
 *
 * Real nats-servers, real signatures, a real bridge; how late a copy reaches the receiving stream is made by the
 * sender's clock set back (it signs `created_at` in the past), as test/edge-allowance does: no waiting.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../services/sdk/policy/index.ts';
import { parseAgreement } from '../services/bridge/agreement/load.ts';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { bridgeSupport } from '../services/bridge/sdk-support.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { REPLAY_TOLERANCE_MS } from '../services/sdk/client/freshness.ts';
import type { Clock } from '../services/sdk/clock.ts';
import { MAX_CLOCK_SKEW_MS } from '../services/sdk/envelope/open.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { connectBridged, POLICE_MED_TO_ATL, untilPeerKnown } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { until } from './support/workflows.ts';

const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const HOUR = 3_600_000;
const FLOWS = [POLICE_MED_TO_ATL];
const withOutage = (text: string, outage: string) => text.replace('\nflows:\n', `\noutage: ${outage}\nflows:\n`);

/** A clock set back by `lagMs`. */
function laggingClock(): Clock & { lagMs: number } {
  const c = { lagMs: 0, now: () => Date.now() - c.lagMs };
  return c;
}

describe('agreement key outage', () => {
  const base = ['version: 1', 'id: med-atl', 'federations:', '  - { name: med, root: { kty: OKP, crv: Ed25519, x: 71Y3TP6FJ7CyCy1eMloab_e0oQng8ZyLvIkHW3iZppA } }', '  - { name: atl, root: { kty: OKP, crv: Ed25519, x: imBEUWsdWPY4msf9T5U1AN4m04wShYSu2Ke56WCrjuM } }', 'expires: 2099-01-01T00:00:00Z', 'flows:', '  - { from: med:xa-border-police, to: atl:xb-police, types: [IntelligenceReport], tier: personal }', ''].join('\n');

  it('is read as a duration; absent, none', () => {
    expect(parseAgreement(withOutage(base, '24h')).outageMs).toBe(24 * HOUR);
    expect(parseAgreement(withOutage(base, '3d')).outageMs).toBe(72 * HOUR);
    expect(parseAgreement(base).outageMs).toBeUndefined();
  });

  it.each([
    ['a malformed duration', 'soon', /invalid duration "soon"/],
    ['a number without unit', '24', /invalid duration/],
    ['more than 30 days', '31d', /longer than 30d/],
  ])('refuses %s with a located ERR_AGREEMENT_INVALID', (_what, value, message) => {
    let err: unknown;
    try {
      parseAgreement(withOutage(base, value), 'a.yaml');
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_AGREEMENT_INVALID'), String(err)).toBe(true);
    const d = (err as { details: { line: number; key: string; errors: { message: string }[] } }).details;
    expect([d.line, d.key]).toEqual([7, 'outage']);
    expect(d.errors.map((e) => e.message).join('\n')).toMatch(message);
  });
});

describe('a bridge down longer than the replay window (real servers)', () => {
  let feds: TwoFederations;
  let bridge: RunningBridge | undefined;
  let sender: LiaisonClient;
  let local: LiaisonClient;
  const clock = laggingClock();
  const localClock = laggingClock();
  const got: ReceivedMessage[] = [];
  const rejected: Rejection[] = [];
  let receiverPolicy: () => Policy;

  beforeAll(async () => {
    ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police'], atl: ['xb-police', 'xa-border-police'], id: ID, flows: FLOWS, outage: '24h' }));
    sender = await feds.med.connect('xa-border-police', { bridges: bridgeSupport, clock });
    local = await feds.atl.connect('xa-border-police', { clock: localClock });
    const receiver = await connectBridged(feds.atl, 'xb-police');
    await untilPeerKnown(sender, 'atl');
    await untilPeerKnown(receiver, 'med');
    await receiver.consume((m) => void got.push(m), { types: [TYPE], onReject: (r) => void rejected.push(r) });
    receiverPolicy = () => receiver.policy;
  }, 120_000);

  afterAll(() => stopBridged(bridge, feds), 60_000);

  const outcome = async (id: string, who: string) => {
    await until(() => got.some((m) => m.header.id === id) || rejected.some((r) => r.reason.includes(id)), 20_000, `the copy ${id} of ${who}`);
    return got.some((m) => m.header.id === id) ? 'handled' : rejected.find((r) => r.reason.includes(id))!.code;
  };

  it('the handled record outlives the allowance: a re-published envelope read at the end of the longest retention is still recognised', async () => {
    const jsm = await jetstreamManager(feds.atl.exchange.admin);
    const maxAgeMs = (await jsm.streams.info('KV_xb-police_handled')).config.max_age / 1_000_000;
    const longestRetentionMs = Math.max(receiverPolicy().defaultRetentionMs, ...Object.values(receiverPolicy().retention));
    expect(maxAgeMs).toBeGreaterThanOrEqual(longestRetentionMs + 24 * HOUR + MAX_CLOCK_SKEW_MS + REPLAY_TOLERANCE_MS);
    // …and still after the exchange provisions the policy again (as at its start), which sets the policy's own age.
    await feds.atl.exchange.reprovision();
    expect((await jsm.streams.info('KV_xb-police_handled')).config.max_age / 1_000_000).toBe(maxAgeMs);
  }, 60_000);

  it('a copy the bridge republishes 20 h after it was signed is handled (within the agreed 24 h)', async () => {
    expect(20 * HOUR).toBeGreaterThan(REPLAY_TOLERANCE_MS);
    clock.lagMs = 20 * HOUR;
    const r = await sender.send(TYPE, { summary: 'held by a bridge down since yesterday' }, { to: 'atl:xb-police' });
    expect(await outcome(r.id, 'med:xa-border-police')).toBe('handled');
  }, 30_000);

  it('one republished later than the agreed outage (plus the clock skew) is still a replay', async () => {
    clock.lagMs = 24 * HOUR + MAX_CLOCK_SKEW_MS + 10 * 60_000;
    const r = await sender.send(TYPE, { summary: 'too late' }, { to: 'atl:xb-police' });
    expect(await outcome(r.id, 'med:xa-border-police')).toBe('ERR_REPLAY');
  }, 30_000);

  it('a local sender keeps the default tolerance: its copy stored 1 h late is a replay', async () => {
    localClock.lagMs = HOUR;
    const r = await local.send(TYPE, { summary: 'not from across' }, { to: 'xb-police' });
    expect(await outcome(r.id, 'xa-border-police')).toBe('ERR_REPLAY');
  }, 30_000);
});
