import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { compileConsumers, receiveCeiling } from '../services/sdk/policy/index.ts';
import { DIRECTORY_REQUEST_SUBJECTS, agencyJsApi, consumerName, directoryRequestSubject, inboxPrefix, streamName } from '../services/sdk/subjects.ts';
import { TIERS, tierRank } from '../services/sdk/tier.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { RawAgency } from './support/violations.ts';

/**
 * A client holding an agency's own valid `.creds` tries, with a raw nats.js connection, everything
 * its policy denies. The NATS server itself must refuse every attempt (Permissions Violation).
 */
const ROGUE = 'xa-ngo-harbour';
const VICTIM = 'xa-border-police';
const OTHER = 'mac-centre';

describe('rogue client: the broker refuses what the policy denies', () => {
  let fed: TestFederation;
  let rogue: RawAgency;
  const attempts: { what: string; refused: boolean }[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [ROGUE, VICTIM, OTHER], name: 'rogue' });
    rogue = await RawAgency.connect(fed.server.url, fed.agencyDirs[ROGUE]!, ROGUE);
  });
  afterAll(async () => {
    await rogue?.close();
    await fed?.stop();
    const refused = attempts.filter((a) => a.refused).length;
    console.info(`[rogue] ${attempts.length} attempts, ${refused} refused by the server`);
  });

  async function tryPublish(what: string, subject: string): Promise<void> {
    rogue.nc.publish(subject, new Uint8Array([1, 2, 3]));
    const refused = await rogue.refused(subject);
    attempts.push({ what, refused });
    expect(refused, `${what}: publish to ${subject} was not refused`).toBe(true);
  }

  async function trySubscribe(what: string, subject: string): Promise<void> {
    const sub = rogue.nc.subscribe(subject);
    const refused = await rogue.refused(subject);
    sub.unsubscribe();
    attempts.push({ what, refused });
    expect(refused, `${what}: subscribe to ${subject} was not refused`).toBe(true);
  }

  async function tryRequest(what: string, subject: string): Promise<void> {
    await rogue.nc.request(subject, '{}', { timeout: 1_500 }).catch(() => undefined);
    const refused = await rogue.refused(subject);
    attempts.push({ what, refused });
    expect(refused, `${what}: request to ${subject} was not refused`).toBe(true);
  }

  it('control: the same connection may do what its policy allows (pull from its own consumer)', async () => {
    const own = compileConsumers(fed.exchange.policy, typeCatalogOf(fed.catalog)).find((c) => c.agency === ROGUE)!;
    expect(own).toBeDefined();
    const before = rogue.violations.length;
    await rogue.nc.request(agencyJsApi(`CONSUMER.INFO.${own.stream}.${own.name}`), '', { timeout: 2_000 });
    expect(rogue.violations.length).toBe(before);
  });

  it('publishing as another agency is refused', async () => {
    await tryPublish('spoof sender', `liaison.v1.operational.documents.DocumentReport.${VICTIM}.all`);
    await tryPublish('spoof sender directed', `liaison.v1.personal.referrals.CaseReferral.${VICTIM}.${OTHER}`);
  });

  it('forging or serving the federation directory is refused', async () => {
    await tryPublish('push a forged directory', 'liaison.v1.trust.directory');
    await trySubscribe('impersonate the directory service', DIRECTORY_REQUEST_SUBJECTS);
    await tryPublish("ask for the directory on another agency's subject", directoryRequestSubject(VICTIM));
    await tryPublish("write to another agency's quarantine", `liaison.v1.quarantine.${VICTIM}`);
  });

  it('publishing a type its roles may not send is refused', async () => {
    await tryPublish('forbidden type', `liaison.v1.operational.documents.DocumentReport.${ROGUE}.all`);
    await tryPublish('forbidden type', `liaison.v1.special.cooperation.IntelligenceReport.${ROGUE}.all`);
  });

  it('subscribing above its ceiling tier, to others’ directed messages, or to wildcards is refused', async () => {
    const tc = typeCatalogOf(fed.catalog);
    const ceiling = receiveCeiling(fed.exchange.policy, ROGUE, 'CaseReferral', 'direct');
    expect(ceiling).toBeDefined();
    for (const tier of TIERS.filter((t) => tierRank(t) > tierRank(ceiling!.tier))) {
      await trySubscribe(`tier ${tier} above ceiling ${ceiling!.tier}`, `liaison.v1.${tier}.referrals.CaseReferral.*.${ROGUE}`);
    }
    for (const tier of TIERS.filter((t) => t !== ceiling!.tier)) {
      await trySubscribe(`CaseReferral at ${tier}`, `liaison.v1.${tier}.referrals.CaseReferral.*.${ROGUE}`);
    }
    await trySubscribe('directed to another agency', `liaison.v1.${ceiling!.tier}.referrals.CaseReferral.*.${OTHER}`);
    await trySubscribe('intelligence broadcast', 'liaison.v1.operational.cooperation.IntelligenceReport.*.all');
    await trySubscribe('all liaison traffic', 'liaison.>');
    await trySubscribe('everything', '>');
    await trySubscribe('shared inbox', '_INBOX.>');
    await trySubscribe("another agency's inbox", `${inboxPrefix(VICTIM)}.>`);
    await trySubscribe('quarantine of another agency', `liaison.v1.quarantine.${VICTIM}`);
    await trySubscribe('JetStream acks', '$JS.ACK.>');
    expect(tc.types().length).toBeGreaterThan(0);
  });

  it('the JetStream API is closed except pulling and acking its own consumers', async () => {
    const stream = streamName('referrals');
    const victimConsumer = consumerName(VICTIM, 'DocumentHitNotice', 'direct');
    // The exchange's API under its own name, and as imported into agency accounts (LIAISON.API): closed either way.
    for (const api of ['$JS.API', 'LIAISON.API']) {
      await tryRequest(`${api} account info`, `${api}.INFO`);
      await tryRequest(`${api} stream list`, `${api}.STREAM.LIST`);
      await tryRequest('stream names', `${api}.STREAM.NAMES`);
      await tryRequest('stream info', `${api}.STREAM.INFO.${stream}`);
      await tryRequest('message get', `${api}.STREAM.MSG.GET.${stream}`);
      await tryRequest('direct get', `${api}.DIRECT.GET.${stream}`);
      await tryRequest('stream purge', `${api}.STREAM.PURGE.${stream}`);
      await tryRequest('stream delete', `${api}.STREAM.DELETE.${stream}`);
      await tryRequest('stream create', `${api}.STREAM.CREATE.ROGUE`);
      await tryRequest('consumer create', `${api}.CONSUMER.CREATE.${stream}`);
      await tryRequest('durable consumer create', `${api}.CONSUMER.DURABLE.CREATE.${stream}.rogue`);
      await tryRequest('consumer list', `${api}.CONSUMER.LIST.${stream}`);
      await tryRequest("another agency's consumer info", `${api}.CONSUMER.INFO.LIAISON_DOCUMENTS.${victimConsumer}`);
      await tryRequest("pull from another agency's consumer", `${api}.CONSUMER.MSG.NEXT.LIAISON_DOCUMENTS.${victimConsumer}`);
      await tryRequest('delete own consumer', `${api}.CONSUMER.DELETE.${stream}.${consumerName(ROGUE, 'CaseReferral', 'direct')}`);
    }
    await tryPublish("ack on another agency's consumer", `$JS.ACK.LIAISON_DOCUMENTS.${victimConsumer}.1.1.1.1.0`);
  });

  it('a connection that claims another agency’s inbox prefix cannot receive its replies', async () => {
    const spoof = await RawAgency.connect(fed.server.url, fed.agencyDirs[ROGUE]!, ROGUE, inboxPrefix(VICTIM));
    try {
      await spoof.nc.request(directoryRequestSubject(ROGUE), '', { timeout: 1_500 }).catch(() => undefined);
      const refused = await spoof.refused(`${inboxPrefix(VICTIM)}.>`).catch(() => false);
      const anyRefusal = refused || spoof.violations.some((v) => v.subject.startsWith(inboxPrefix(VICTIM)));
      attempts.push({ what: 'spoofed inbox prefix', refused: anyRefusal });
      expect(anyRefusal).toBe(true);
    } finally {
      await spoof.close();
    }
  });

  it('every attempt was refused by the server', () => {
    expect(attempts.length).toBeGreaterThanOrEqual(51);
    expect(attempts.filter((a) => !a.refused)).toEqual([]);
  });
});
