import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachExchange, type AttachedExchange } from '../services/exchange/exchange.ts';
import { RETRACTIONS_BUCKET } from '../services/exchange/retract-service.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

/**
 * The retraction service opens (and first migrates) its bucket on the first request after a failure: each failure is
 * forgotten, so the service recovers when the cause goes (issue 16). It did once, at start; a failure of an attempt a
 * request made was kept, and every retract and status request failed with it until the exchange restarted. The
 * failure here is real and lasts exactly as long as the test wants: the bucket's stream refuses messages larger than
 * 8 bytes, so the start-up migration cannot move an old-format record.
 */
const AGENCY = 'xc-training';

describe('the retraction service recovers from a bucket it could not open or migrate', () => {
  let fed: TestFederation;
  let restarted: AttachedExchange | undefined;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [AGENCY], name: 'retract-bucket-retry' });
  }, 60_000);
  afterAll(async () => {
    await restarted?.stop();
    await fed?.stop();
  });

  it('two failed attempts (at start, then by a request), the cause removed: the next request is answered', async () => {
    const training = await fed.connect(AGENCY);
    const offer = await training.send('TrainingOffer', { courseCode: 'RETRY-1', title: 'Retried bucket', eligibleRoles: [], seats: 2, delivery: 'DELIVERY_MODE_IN_PERSON' });
    const first = await training.retract(offer.id, 'course cancelled');
    // An old-format record (under the id alone): the next start must move it.
    const kv = await new Kvm(fed.exchange.admin).open(RETRACTIONS_BUCKET);
    const e = await kv.get(`${AGENCY}.${offer.id}`);
    await kv.put(offer.id, e!.value);
    await kv.delete(`${AGENCY}.${offer.id}`);
    // The cause: the bucket's stream takes no message of more than 8 bytes (the move's create is refused).
    const jsm = await jetstreamManager(fed.exchange.admin);
    const stream = `KV_${RETRACTIONS_BUCKET}`;
    const config = (await jsm.streams.info(stream)).config;
    await jsm.streams.update(stream, { ...config, max_msg_size: 8 });
    await fed.exchange.stop();
    restarted = await attachExchange({ trustDir: fed.trustDir, url: fed.server.url, catalog: typeCatalogOf(fed.catalog) });

    // Attempt 1 (the start's) and attempt 2 (this request's) fail.
    await expect(training.retractionStatus(offer.id)).rejects.toThrow();
    await expect(training.retractionStatus(offer.id)).rejects.toThrow();
    // The cause removed: a later request opens and migrates the bucket, and is answered.
    await (await jetstreamManager(restarted.admin)).streams.update(stream, { ...config, max_msg_size: -1 });
    await until(async () => (await training.retractionStatus(offer.id).catch(() => undefined)) !== undefined, 15_000, 'a status answered once the bucket can be migrated');
    expect(await training.retractionStatus(offer.id)).toMatchObject({ sender: AGENCY, originalId: offer.id, retractedAt: first.record.retractedAt });
  }, 90_000);
});
