import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
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
 * The export consumers and the import user compiled from an agreement (design §4), issued as a real NATS user JWT and used against a real
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

describe('export consumers on a real broker', () => {
  it('nats-server accepts every compiled export consumer, and each delivers only its route\'s copy at its tier', async () => {
    const jsm = await jetstreamManager(fed.exchange.admin);
    const js = jetstream(fed.exchange.admin);
    const route = side.outbound.find((r) => r.sender === 'xa-coast-guard' && r.type === 'CaseReferral')!;
    expect(route.recipient).toBe('atl:xb-police');
    for (const c of side.exportConsumers) await jsm.consumers.add(c.stream, { durable_name: c.name, filter_subject: c.filterSubject, ack_policy: AckPolicy.Explicit });
    const mine = side.exportConsumers.filter((c) => c.type === 'CaseReferral' && c.filterSubject.includes('.xa-coast-guard.atl:xb-police'));
    expect(mine.map((c) => c.tier)).toEqual(['public', 'operational', 'personal']);
    const family = route.family;
    const publish = (subject: string, id: string) => js.publish(subject, new TextEncoder().encode(subject), { msgID: id });
    // Copies the bridge must not see (another recipient, a local one, another sender, a tier above the flow's), then the agreed one.
    await publish(`liaison.v1.personal.${family}.CaseReferral.xa-coast-guard.atl:xb-prosecutor`, 'x1');
    await publish(`liaison.v1.personal.${family}.CaseReferral.xa-coast-guard.xa-ngo-harbour`, 'x2');
    await publish(`liaison.v1.personal.${family}.CaseReferral.xa-border-police.atl:xb-police`, 'x3');
    await publish(`liaison.v1.special.${family}.CaseReferral.xa-coast-guard.atl:xb-police`, 'x4');
    await publish(`liaison.v1.personal.${family}.CaseReferral.xa-coast-guard.atl:xb-police`, 'ok');
    const seen: string[] = [];
    for (const c of side.exportConsumers) {
      const info = await jsm.consumers.info(c.stream, c.name);
      if (info.num_pending === 0) continue;
      const consumer = await js.consumers.get(c.stream, c.name);
      const batch = await consumer.fetch({ max_messages: 10, expires: 1_000 });
      for await (const m of batch) {
        seen.push(`${c.name} ${m.subject}`);
        m.ack();
      }
    }
    expect(seen).toEqual([`bridge_atl_xa-coast-guard_xb-police_CaseReferral_personal liaison.v1.personal.${family}.CaseReferral.xa-coast-guard.atl:xb-police`]);
  });
});
