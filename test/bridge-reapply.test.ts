/**
 * An agreement revoked and applied again at once (issue 17): the new bridge users `bridge apply` issues right after
 * `bridge revoke` (the same second, the same bridge account) connect and carry traffic both ways; the old ones stay
 * cut. Real nats-servers, real roots, a real bridge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBridge } from '../services/bridge/bridge.ts';
import { bridgeInbox } from '../services/bridge/compile.ts';
import { readBridgeUsers } from '../services/bridge/apply.ts';
import { bridgeAccountId, bridgePaths } from '../services/bridge/paths.ts';
import { decodeNatsJwt, revocationsOf, trustPaths } from '../services/trust/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { readFile } from 'node:fs/promises';
import { applyOn, bridgeUp, caOf, connectAcross, POLICE_ATL_TO_MED, POLICE_MED_TO_ATL, revokeOn } from './support/bridge.ts';
import { createBridgedFederations, stopBridged } from './support/bridged-federations.ts';
import type { TwoFederations } from './support/two-federations.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const ID = 'med-atl';
const TYPE = 'IntelligenceReport';
const FLOWS = [POLICE_MED_TO_ATL, POLICE_ATL_TO_MED];

let feds: TwoFederations;
let bridge: RunningBridge | undefined;
let medPolice: LiaisonClient;
let atlPolice: LiaisonClient;
const atlGot: ReceivedMessage[] = [];
const medGot: ReceivedMessage[] = [];

beforeAll(async () => {
  ({ feds, bridge } = await createBridgedFederations({ med: ['xa-border-police'], atl: ['xb-police'], id: ID, flows: FLOWS }));
  ({ med: medPolice, atl: atlPolice } = await connectAcross(feds, 'xa-border-police', 'xb-police'));
  await atlPolice.consume((m) => void atlGot.push(m), { types: [TYPE] });
  await medPolice.consume((m) => void medGot.push(m), { types: [TYPE] });
}, 120_000);

afterAll(() => stopBridged(bridge, feds), 60_000);

describe('bridge revoke then apply at once', () => {
  it('the bridge users issued right after a revoke connect and carry traffic both ways; the revoked ones stay cut', async () => {
    const before = await medPolice.send(TYPE, { summary: 'before' }, { to: 'atl:xb-police' });
    await until(() => atlGot.some((m) => m.header.id === before.id), 15_000, 'the copy before the revoke');
    const oldExport = new Uint8Array(await readFile(bridgePaths(feds.med.trustDir, ID).exportCreds));
    await bridge!.stop();
    bridge = undefined;
    // Revoke and apply again in the same second (one bridge account, its revocations stamped with this second).
    const doc = JSON.parse(await readFile(bridgePaths(feds.med.trustDir, ID).agreement, 'utf8'));
    await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000)));
    const revoked = await revokeOn(feds.med, ID);
    const applied = await applyOn(feds.med, doc);
    expect(revoked.revokedUsers.length).toBe(2);
    expect(applied.id).toBe(ID);
    // The root condition, whatever the timing: no revocation entry of the bridge account covers a new user's JWT
    // (NATS refuses a user JWT whose key — or '*' — is revoked at or after its issued-at second).
    const users = await readBridgeUsers(feds.med.trustDir, ID);
    const fresh = [users.export.at(-1)!, users.import.at(-1)!];
    expect(fresh.some((k) => revoked.revokedUsers.includes(k))).toBe(false);
    const revocations = revocationsOf(await readFile(trustPaths(feds.med.trustDir).agencyAccountJwt(bridgeAccountId(ID)), 'utf8'));
    for (const file of [bridgePaths(feds.med.trustDir, ID).exportCreds, bridgePaths(feds.med.trustDir, ID).importCreds]) {
      const jwt = /-----BEGIN NATS USER JWT-----\s*([^\s-][^\s]*)\s*------END NATS USER JWT------/.exec(await readFile(file, 'utf8'))![1]!;
      const claims = decodeNatsJwt(jwt);
      const cut = revocations[claims.sub] ?? revocations['*'];
      expect(cut === undefined || cut < claims.iat, `${claims.sub} issued at ${claims.iat}, revoked up to ${cut}`).toBe(true);
    }
    // The new export user connects and stays connected (a revoked JWT is closed by the server at once).
    const newExport = new Uint8Array(await readFile(bridgePaths(feds.med.trustDir, ID).exportCreds));
    const probe = await RawAgency.connectCreds(feds.med.server.url, newExport, await caOf(feds.med), bridgeInbox(ID, 'export'));
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      expect(probe.nc.isClosed()).toBe(false);
    } finally {
      await probe.close();
    }
    // The old one is refused.
    await expect(RawAgency.connectCreds(feds.med.server.url, oldExport, await caOf(feds.med), bridgeInbox(ID, 'export')).then(async (r) => {
      await new Promise((res) => setTimeout(res, 1_500));
      const closed = r.nc.isClosed();
      await r.close();
      return closed;
    }, () => true)).resolves.toBe(true);
    bridge = await bridgeUp(feds, ID);
    await until(() => Object.values(bridge!.stats()).every((s) => s.online), 15_000, 'both links online');
    await until(() => {
      try {
        medPolice.seal(TYPE, { summary: 'probe' }, { to: 'atl:xb-police' });
        return true;
      } catch {
        return false;
      }
    }, 15_000, 'med’s SDK to see the agreement again');
    const out = await medPolice.send(TYPE, { summary: 'after re-apply' }, { to: 'atl:xb-police' });
    const back = await atlPolice.send(TYPE, { summary: 'and back after re-apply' }, { to: 'med:xa-border-police' });
    await until(() => atlGot.some((m) => m.header.id === out.id), 20_000, 'med → atl after the re-apply');
    await until(() => medGot.some((m) => m.header.id === back.id), 20_000, 'atl → med after the re-apply');
    expect(Object.values(bridge.stats()).reduce((n, s) => n + s.refused, 0)).toBe(0);
  }, 120_000);
});
