/**
 * A client's first message does not wait for a reconnect (issue 16). An agency whose NATS user JWT was re-issued
 * while it was offline (a policy change that only gained it permissions: its old JWT still connects) learns the new
 * JWT from the directory it fetches at connect, and must reconnect with it. nats.js waits `reconnectTimeWait` (2 s
 * plus jitter) before dialling a server it dialled less than that ago, so that reconnect, made right after the first
 * connect, used to hold the agency's first send for ~2.5 s (measured: acknowledged 2.8–3.1 s after connect instead of
 * 50–130 ms). Now the credential switch dials at once and `connect` resolves on the re-issued JWT.
 *
 * Robust under load: nothing is bounded by wall time. The client is given a very long wait between reconnect attempts
 * (`reconnectWaitMs`), so a switch that waited for it would hold the first send past the publisher's 10 s deadline,
 * and the assertions are on the connection's status events and the client's own log lines.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPolicy } from '../services/exchange/policy-apply.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { DEFAULT_RECONNECT_WAIT_MS, ReconnectPacing } from '../services/sdk/client/reconnect-pacing.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { jwtOfCreds } from '../services/sdk/client/live-credentials.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { requireAgencyRecord } from '../services/trust/record.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { EXAMPLE_POLICY, createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const NGO = 'xa-ngo-harbour';
const NGO_RULE = '      - types: [StrategicReport, TrainingOffer]\n        tier: public\n        scope: broadcast\n';
const ADOPTING = 'adopting re-issued credentials; reconnecting';
/** Far longer than any test here may take: a reconnect that waited for it would show as a timeout. */
const RECONNECT_WAIT_MS = 120_000;

/** The example policy where the NGO gains intelligence broadcasts (a gain only: its current JWT is not revoked). */
async function ngoGainsIntelligence(): Promise<string> {
  const text = await readFile(EXAMPLE_POLICY, 'utf8');
  const out = text.replace(NGO_RULE, `${NGO_RULE}      - types: [IntelligenceReport]\n        tier: operational\n        scope: broadcast\n`);
  expect(out).not.toBe(text);
  return out;
}

/** A logger keeping the messages the client logs. */
function capturingLogger() {
  const messages: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

/** Every status event of the connection from now on (a reconnect shows as disconnect, reconnecting, reconnect). */
function statusEvents(c: LiaisonClient): string[] {
  const events: string[] = [];
  void (async () => {
    for await (const s of c.nc.status()) events.push(s.type);
  })();
  return events;
}

const natsCreds = (dir: string) => readFile(join(dir, 'nats.creds'));

describe('a client whose NATS credentials were re-issued while it was offline', () => {
  let fed: TestFederation;
  let coast: LiaisonClient;
  let reissuedJwt: string;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [NGO, 'xa-coast-guard'], name: 'live-credentials-connect' });
    coast = await fed.connect('xa-coast-guard');
    const before = jwtOfCreds(await natsCreds(fed.agencyDirs[NGO]!));
    const report = await applyPolicy({
      trustDir: fed.trustDir,
      policyText: await ngoGainsIntelligence(),
      catalog: typeCatalogOf(fed.catalog),
      url: fed.server.url,
      admin: fed.exchange.admin,
      pushDirectory: () => fed.exchange.directory.refresh(),
    });
    expect(report.reissued).toEqual([NGO]);
    expect(report.cut).toEqual([]);
    reissuedJwt = (await requireAgencyRecord(fed.trustDir, NGO)).nats.users.filter((u) => u.revokedAt === undefined).at(-1)!.jwt!;
    // The NGO was offline: its AGENCY_DIR still holds the old JWT, which still connects.
    expect(reissuedJwt).not.toBe(before);
  });
  afterAll(async () => fed?.stop());

  it('connect resolves on the re-issued JWT: no reconnect after it, the first send is acknowledged and the gained type received on that connection', async () => {
    const { logger, messages } = capturingLogger();
    const ngo = await fed.connect(NGO, { logger, reconnectWaitMs: RECONNECT_WAIT_MS });
    const events = statusEvents(ngo);
    expect(messages.filter((m) => m === ADOPTING)).toHaveLength(1);

    const receipt = await ngo.send('PracticeNote', { title: 'first message after connect', summary: 'not held by a reconnect' });
    expect(receipt.copies.length).toBeGreaterThan(0);
    // The gain needs the re-issued JWT: the old one may not pull from the new consumer.
    const got: ReceivedMessage[] = [];
    await ngo.consume((m) => void got.push(m), { types: ['IntelligenceReport'] });
    const sent = await coast.send('IntelligenceReport', { summary: 'a sighting the NGO now receives' }, { to: 'all', tlp: 'GREEN' });
    await until(() => got.some((m) => m.header.id === sent.id), 20_000, 'the NGO to receive the intelligence report it gained');
    await ngo.nc.flush();
    expect(events).toEqual([]);
    // It saved the re-issued JWT for its next start.
    await until(async () => jwtOfCreds(await natsCreds(fed.agencyDirs[NGO]!)) === reissuedJwt, 10_000, 'the re-issued creds saved');
    await ngo.close();
  });

  it('a client already holding its current JWT adopts nothing at connect and never reconnects', async () => {
    expect(jwtOfCreds(await natsCreds(fed.agencyDirs[NGO]!))).toBe(reissuedJwt);
    const { logger, messages } = capturingLogger();
    const ngo = await fed.connect(NGO, { logger, reconnectWaitMs: RECONNECT_WAIT_MS });
    const events = statusEvents(ngo);
    await ngo.send('PracticeNote', { title: 'first message', summary: 'on the credentials it holds' });
    await ngo.nc.flush();
    expect(messages).not.toContain(ADOPTING);
    expect(events).toEqual([]);
    await ngo.close();
  });

  it('a reconnect wait that is not a whole number of ms from 0 to one hour is refused with ERR_USAGE, before connecting', async () => {
    for (const bad of [-1, 1.5, 3_600_001, Number.NaN, '2000' as unknown as number]) {
      const err = await fed.connect(NGO, { reconnectWaitMs: bad }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLiaisonError(err) && err.code).toBe('ERR_USAGE');
      expect((err as Error).message).toContain('reconnectWaitMs');
    }
  });
});

describe('reconnect pacing: only the credential switch skips the wait', () => {
  it('a lost connection waits the reconnect wait plus jitter before each dial; dialNow makes the next dial immediate, once', () => {
    const tls = new ReconnectPacing({ tls: true });
    const plain = new ReconnectPacing({ waitMs: 500, tls: false });
    for (let i = 0; i < 200; i++) {
      const t = tls.delay();
      expect(t).toBeGreaterThanOrEqual(DEFAULT_RECONNECT_WAIT_MS);
      expect(t).toBeLessThanOrEqual(DEFAULT_RECONNECT_WAIT_MS + 1_000);
      const p = plain.delay();
      expect(p).toBeGreaterThanOrEqual(500);
      expect(p).toBeLessThanOrEqual(600);
    }
    tls.dialNow();
    expect(tls.delay()).toBe(0);
    // The switch's dial failed: the attempts after it are paced again (a restarting exchange is not hammered).
    expect(tls.delay()).toBeGreaterThanOrEqual(DEFAULT_RECONNECT_WAIT_MS);
  });
});
