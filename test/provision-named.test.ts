/**
 * Provisioning by name (services/exchange/provision-named.ts), what the exchange runs at start, on a reprovision and
 * when the unchanged policy is applied again: it lists nothing, yet deletes what the listing version deleted that
 * Liaison made — the consumers an earlier policy granted (from the exchange's record of what it provisioned) — and
 * leaves strays nothing in Liaison made to the full reconcile (`reprovision({ full: true })`). Real nats-server.
 */
import { readFile } from 'node:fs/promises';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE_STATE_BUCKET } from '../services/exchange/enforced.ts';
import { provisionByName } from '../services/exchange/provision-named.ts';
import { PROVISIONED_CONSUMERS_KEY, readProvisionedConsumers } from '../services/exchange/provisioned-record.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { parsePolicy } from '../services/sdk/policy/index.ts';
import { trustPaths } from '../services/trust/index.ts';
import { EXAMPLE_POLICY, createTestFederation, type TestFederation } from './support/federation.ts';

const CENTRE_RULE = '      - types: [DocumentReport, DocumentStatusChange, PersonAlert, IntelligenceReport]';
/** Granted by the example policy, not by {@link narrowed}. */
const DROPPED = 'mac-centre__IntelligenceReport__all';
const LISTINGS = ['$JS.API.STREAM.LIST', '$JS.API.STREAM.NAMES', '$JS.API.CONSUMER.LIST.>', '$JS.API.CONSUMER.NAMES.>'];

describe('provisioning by name: nothing listed, nothing Liaison made left behind', () => {
  let fed: TestFederation;
  let observer: NatsConnection;
  const listed: string[] = [];
  const tc = () => typeCatalogOf(fed.catalog);
  /** The example policy without the centre's intelligence broadcasts. */
  const narrowed = async () => {
    const text = await readFile(EXAMPLE_POLICY, 'utf8');
    expect(text).toContain(CENTRE_RULE);
    return parsePolicy(text.replace(CENTRE_RULE, '      - types: [DocumentReport, DocumentStatusChange, PersonAlert]'), { file: 'narrowed.yaml', catalog: tc() });
  };
  const exists = async (stream: string, name: string) => Boolean(await (await jetstreamManager(fed.exchange.admin)).consumers.info(stream, name).catch(() => undefined));

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-coast-guard', 'mac-centre'], name: 'provision-named' });
    observer = await connect({ servers: fed.server.url, tls: fed.tls, authenticator: credsAuthenticator(new Uint8Array(await readFile(trustPaths(fed.trustDir).adminCreds))) });
    for (const subject of LISTINGS) observer.subscribe(subject, { callback: (_err, m) => void listed.push(m.subject) });
    await observer.flush();
  });
  afterAll(async () => {
    await observer?.close();
    await fed?.stop();
  });

  it('deletes by name a consumer it provisioned that the policy no longer grants (an apply stopped half-way, applied again), listing nothing', async () => {
    expect(await exists('LIAISON_COOPERATION', DROPPED)).toBe(true);
    expect(await readProvisionedConsumers(fed.exchange.admin)).toContain(`LIAISON_COOPERATION/${DROPPED}`);
    listed.length = 0;
    const report = await provisionByName(fed.exchange.admin, await narrowed(), tc());
    await observer.flush();
    expect(report.removedConsumers).toEqual([DROPPED]);
    expect(await exists('LIAISON_COOPERATION', DROPPED)).toBe(false);
    expect(await readProvisionedConsumers(fed.exchange.admin)).not.toContain(`LIAISON_COOPERATION/${DROPPED}`);
    // And made again, by name, when the policy grants it again.
    const back = await provisionByName(fed.exchange.admin, fed.exchange.policy, tc());
    await observer.flush();
    expect(back.changedConsumers).toEqual([DROPPED]);
    expect(await exists('LIAISON_COOPERATION', DROPPED)).toBe(true);
    expect(listed).toEqual([]);
  });

  it("leaves a stray nothing in Liaison made to the full reconcile, which lists and deletes it", async () => {
    const jsm = await jetstreamManager(fed.exchange.admin);
    await jsm.consumers.add('LIAISON_DOCUMENTS', { durable_name: 'rogue-tap', ack_policy: AckPolicy.Explicit, filter_subject: 'liaison.v1.personal.documents.>' });
    expect((await fed.exchange.reprovision()).removedConsumers).toEqual([]);
    expect(await exists('LIAISON_DOCUMENTS', 'rogue-tap')).toBe(true);
    expect((await fed.exchange.reprovision({ full: true })).removedConsumers).toEqual(['rogue-tap']);
    expect(await exists('LIAISON_DOCUMENTS', 'rogue-tap')).toBe(false);
  });

  it('an exchange with no record of its consumers (an older Liaison) gets one full reconcile, which records them', async () => {
    const kv = await new Kvm(fed.exchange.admin).open(EXCHANGE_STATE_BUCKET);
    await kv.delete(PROVISIONED_CONSUMERS_KEY);
    expect(await readProvisionedConsumers(fed.exchange.admin)).toBeUndefined();
    const jsm = await jetstreamManager(fed.exchange.admin);
    await jsm.consumers.add('LIAISON_DOCUMENTS', { durable_name: 'older-tap', ack_policy: AckPolicy.Explicit, filter_subject: 'liaison.v1.personal.documents.>' });
    listed.length = 0;
    const report = await provisionByName(fed.exchange.admin, fed.exchange.policy, tc());
    await observer.flush();
    expect(listed.length).toBeGreaterThan(0);
    expect(report.removedConsumers).toEqual(['older-tap']);
    expect((await readProvisionedConsumers(fed.exchange.admin))?.size).toBe(report.consumers.length);
  });
});
