/**
 * A RecordWriter that follows its connection (failOnDisconnect, issue 16) holds a write asked for while the
 * connection is down and sends it once it is back; a held write that failed meanwhile (its timeout passed: its
 * caller was told it failed and may retry) is never sent afterwards. Real nats-server; the writer's connection runs
 * through a TCP link (test/support/cut-link.ts) that cuts it and refuses the reconnects until told otherwise.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { RecordWriter } from '../services/sdk/client/record-writer.ts';
import { agencyBuckets } from '../services/sdk/policy/index.ts';
import { agencyJsApi, inboxPrefix } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { startCutLink } from './support/cut-link.ts';
import { until } from './support/workflows.ts';

const AGENCY = 'mac-centre';

describe('a write held while the connection is down (issue 16)', () => {
  let fed: TestFederation;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [AGENCY], name: 'writer-held' });
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it('is sent at the reconnect, unless its timeout failed it meanwhile: a write reported failed is never stored later', async () => {
    const link = await startCutLink(fed.server.url);
    const client = await LiaisonClient.connect({ agencyDir: fed.agencyDirs[AGENCY]!, catalog: fed.catalog, servers: [link.url], reconnectWaitMs: 100 });
    let reconnects = 0;
    void (async () => {
      for await (const s of client.nc.status()) if (s.type === 'reconnect') reconnects++;
    })();
    const bucket = agencyBuckets(client.policy, AGENCY).find((b) => b.kind === 'kv' && b.name === 'correlations')!.bucket;
    const kv = await new Kvm(fed.exchange.admin).open(bucket);
    const writer = new RecordWriter(client.nc, inboxPrefix(AGENCY), { code: 'ERR_PUBLISH', what: 'correlation bucket', failOnDisconnect: true });
    const subject = (key: string) => agencyJsApi(`$KV.${bucket}.${key}`);
    const data = new TextEncoder().encode('{"held":true}');
    try {
      // Cut the connection at the server's next bytes (the flush's PONG) and keep it down.
      const refusedBefore = link.refused();
      link.refuse(true);
      link.armCut(1);
      void client.nc.flush().catch(() => undefined);
      await link.cut;
      await until(() => link.refused() > refusedBefore, 20_000, 'a reconnect refused');
      const expired = writer.put(subject('facts.held.expired'), data, 0, 300);
      const kept = writer.put(subject('facts.held.kept'), data, 0);
      await expect(expired, 'the short write fails by its timeout while the connection is down').rejects.toThrow(/^no acknowledgement from the exchange/);
      link.refuse(false);
      await until(() => reconnects > 0, 20_000, 'the reconnect');
      // Held and sent at the reconnect (nats.js would have dropped it published while down).
      expect(await kept, 'the write held while down is stored once the connection is back').toBeGreaterThan(0);
      // Both were held together, the failed one first: had it been sent, it would be stored by now.
      expect(await kv.get('facts.held.expired'), 'the write reported failed was not stored afterwards').toBeNull();
    } finally {
      writer.close();
      await client.close();
      await link.stop();
    }
  }, 60_000);
});
