import { jetstream } from '@nats-io/jetstream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgreement } from '../services/bridge/agreement/load.ts';
import { bridgeInbox, compileBridgeSide, type BridgeSide } from '../services/bridge/compile.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { issueUser } from '../services/trust/nats-accounts.ts';
import { trustPaths } from '../services/trust/paths.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * The import user compiled from an agreement (design §4), issued as a real NATS user JWT and used against a real
 * nats-server of the `med` federation: it stores exactly the inbound routes' subjects, and the broker refuses it
 * anything else — another sender, another tier, another recipient, the JetStream API. (The bridge process and the
 * users' own account are F2's: test/bridge*.test.ts.)
 */

let fed: TestFederation;
let side: BridgeSide;
let importer: RawAgency;

beforeAll(async () => {
  fed = await createTestFederation({ agencies: [], name: 'med' });
  const text = await readFile(join(import.meta.dirname, '../deploy/agreements/med-atl.yaml'), 'utf8');
  side = compileBridgeSide(parseAgreement(text), 'med', fed.exchange.policy, typeCatalogOf(fed.catalog));
  const accountSeed = (await readFile(trustPaths(fed.trustDir).accountSeed, 'utf8')).trim();
  const user = await issueUser({ accountSigner: accountSeed, name: 'bridge-import-test', permissions: { pub: { allow: side.importUser.pub }, sub: { allow: side.importUser.sub } } });
  importer = await RawAgency.connectCreds(fed.exchange.url, new TextEncoder().encode(user.creds), fed.tls.ca, bridgeInbox(side.agreementId, 'import'));
}, 120_000);

afterAll(async () => {
  await importer?.close();
  await fed?.stop();
});

describe('import user permissions on a real broker', () => {
  it('stores a copy on an inbound route subject (PubAck from the family stream)', async () => {
    const subject = 'liaison.v1.personal.cooperation.IntelligenceReport.atl:xb-police.xa-border-police';
    expect(side.importUser.pub).toContain(subject);
    const ack = await jetstream(importer.nc).publish(subject, new TextEncoder().encode('copy'), { msgID: 'bridge-broker-test-1' });
    expect(ack.stream).toBe('LIAISON_COOPERATION');
    expect(ack.seq).toBeGreaterThan(0);
    expect(importer.violations).toEqual([]);
  });

  it.each([
    ['another foreign sender', 'liaison.v1.personal.cooperation.IntelligenceReport.atl:xb-prosecutor.xa-border-police'],
    ['a tier above the route', 'liaison.v1.special.cooperation.IntelligenceReport.atl:xb-police.xa-border-police'],
    ['a tier below the route', 'liaison.v1.operational.cooperation.IntelligenceReport.atl:xb-police.xa-border-police'],
    ['another local recipient', 'liaison.v1.personal.cooperation.IntelligenceReport.atl:xb-police.xa-prosecutor'],
    ['a type no flow names', 'liaison.v1.personal.persons.PersonAlert.atl:xb-police.xa-border-police'],
    ['a local sender', 'liaison.v1.personal.cooperation.IntelligenceReport.xa-coast-guard.xa-border-police'],
    ['the JetStream API', '$JS.API.STREAM.PURGE.LIAISON_COOPERATION'],
    ['another peer directory', 'liaison.v1.trust.foreign.pac'],
  ])('is refused %s', async (_what, subject) => {
    importer.nc.publish(subject, new TextEncoder().encode('x'));
    expect(await importer.refused(subject)).toBe(true);
  });
});
