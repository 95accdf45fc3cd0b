/**
 * The exchange's retraction-record migration across a cut of the administrator's connection (issue 16): on a cluster
 * that connection moves to a surviving node when its node dies, so a drop can land part-way through
 * `migrateRetractions` — its listing of old one-token keys (an ordered consumer), a read of a record (direct get), or a
 * move (a create, a delete). The exchange's start does not wait for the migration (the retraction service runs it on
 * its first use, again at the next request after a failure), so this drives the migration itself on an administrator
 * connection through a cut link (test/support/cut-link.ts), reconnects refused a while. It must end with every old
 * record at its (sender, id) key, none left at the old one: the request whose answer was lost made again at the
 * reconnect (the migration's ReadGate), never left to fail the migration after nats.js's timeout.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateRetractions } from '../services/exchange/migrate-retractions.ts';
import { RETRACTIONS_BUCKET } from '../services/exchange/retract-service.ts';
import { trustDirTls } from '../services/sdk/client/nats-tls.ts';
import { readPrivateFile } from '../services/sdk/trust/key-file.ts';
import { trustPaths } from '../services/sdk/trust/paths.ts';
import { startCutLink, type CutLink } from './support/cut-link.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { runAcrossCut, whereNow } from './support/start-across-cut.ts';

const SENDER = 'xb-police';
/** Old-format records per test: the listing, then a read and two writes each; the cut lands part-way. */
const OLD = 24;

describe('the exchange\'s retraction migration across a cut of the administrator\'s connection (issue 16)', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER], name: 'retractions-migrate-cut' });
  }, 60_000);
  afterAll(async () => fed?.stop());

  /** Write `OLD` records under their old key `<id>` (as the pre-(sender, id) exchange did); their old and new keys. */
  async function seedOldRecords(series: number): Promise<{ from: string; to: string }[]> {
    const kv = await new Kvm(fed.exchange.admin).open(RETRACTIONS_BUCKET);
    const seeded: { from: string; to: string }[] = [];
    for (let i = 0; i < OLD; i++) {
      const id = `0190f0a0-0000-7000-8${series}00-${String(i).padStart(12, '0')}`;
      await kv.put(id, new TextEncoder().encode(JSON.stringify({ sender: SENDER, originalId: id, reason: 'seeded', retractedAt: new Date().toISOString(), recipients: [] })));
      seeded.push({ from: id, to: `${SENDER}.${id}` });
    }
    return seeded;
  }

  /** An exchange administrator's connection through a new cut link (reconnect wait 100 ms), as the exchange connects. */
  async function adminThroughCut(): Promise<{ link: CutLink; nc: NatsConnection; kv: KV }> {
    const link = await startCutLink(fed.server.url);
    const nc = await connect({
      servers: [link.url],
      ...(await trustDirTls(fed.trustDir, fed.server.url)),
      authenticator: credsAuthenticator(new Uint8Array(await readPrivateFile(trustPaths(fed.trustDir).adminCreds))),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      noAsyncTraces: true,
    });
    return { link, nc, kv: await new Kvm(nc).create(RETRACTIONS_BUCKET, { history: 1 }) };
  }

  /** Run the migration with the link cut right after the `nth` publish `matches` accepts, reconnects refused until three were; how it ended. */
  async function migrateAcrossCut(matches: (subject: string) => boolean, nth: number): Promise<'migrated' | { code: string; message: string }> {
    const { link, nc, kv } = await adminThroughCut();
    try {
      const { result: r, afterReconnectMs } = await runAcrossCut(link, nc, { matches, nth }, async () => await migrateRetractions(nc, kv));
      console.info(`[retractions-migrate-cut] migration ${JSON.stringify('ok' in r ? r.ok : r)} ${afterReconnectMs} ms after reconnects were let through`);
      return 'ok' in r ? 'migrated' : r;
    } finally {
      await nc.close();
      await link.stop();
    }
  }

  const bucketOf = RETRACTIONS_BUCKET;
  /** Where the seeded records sit now, read on the exchange's own administrator connection. */
  const whereNowOf = async (seeded: { from: string; to: string }[]) => {
    const kv = await new Kvm(fed.exchange.admin).open(RETRACTIONS_BUCKET);
    return await whereNow(async (key) => (await kv.get(key))?.operation === 'PUT', seeded);
  };

  it('a cut at the listing of old keys: the migration ends once reconnected, every old record moved', async () => {
    const seeded = await seedOldRecords(1);
    // The ordered consumer the listing creates: its first batch of keys dropped.
    expect(await migrateAcrossCut((subject) => subject.includes(`CONSUMER.CREATE.KV_${bucketOf}`), 1), 'the migration ended (the lost listing made again at the reconnect)').toBe('migrated');
    expect(await whereNowOf(seeded), 'every old record at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut part-way through the reads of old records: the migration ends once reconnected, every old record moved', async () => {
    const seeded = await seedOldRecords(2);
    expect(await migrateAcrossCut((subject) => subject.includes(`DIRECT.GET.KV_${bucketOf}`), 8), 'the migration ended (the lost read made again at the reconnect)').toBe('migrated');
    expect(await whereNowOf(seeded), 'every old record at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);

  it('a cut part-way through the moves (creates and deletes): the migration ends once reconnected, every old record moved', async () => {
    const seeded = await seedOldRecords(3);
    // Writes to the records' keys: the creates at (sender, id) and the deletes of the old keys, interleaved.
    expect(await migrateAcrossCut((subject) => subject.startsWith(`$KV.${bucketOf}.`), 7), 'the migration ended (the lost write made again at the reconnect)').toBe('migrated');
    expect(await whereNowOf(seeded), 'every old record at its (sender, id) key, none left at the old one').toEqual({ moved: OLD, old: 0 });
  }, 120_000);
});
