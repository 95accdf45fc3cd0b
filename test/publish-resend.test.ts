/**
 * A publish waiting on a stream leader that died is sent again once the server announces the cluster change, and the
 * new leader acknowledges it after its election — instead of the publish waiting out its acknowledgement deadline
 * (issue 16: "time from a node's death to the first successful publish" was the 10 s deadline). The resend carries the
 * same Nats-Msg-Id, so JetStream stores the message once. Plain three-node JetStream cluster (no accounts: the
 * mechanism under test is the publisher's), loopback, stopped afterwards.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncPublisher } from '../services/sdk/client/publisher.ts';
import type { ClusterNodePlan } from '../services/exchange/nats-cluster.ts';
import { startTestNatsCluster, type TestNatsCluster } from './fixture/nats-cluster.ts';

const STREAM = 'RESEND';
/** Far beyond the bound below: a publish that is never resent cannot be acknowledged within it. */
const DEADLINE_MS = 60_000;
const BOUND_MS = 30_000;

const plainNode = (n: ClusterNodePlan) => `server_name: "${n.name}"
listen: "${n.host}:${n.port}"
http: "${n.host}:${n.httpPort}"
jetstream { store_dir: "${n.storeDir}" }
cluster {
  name: "resend"
  listen: "${n.host}:${n.clusterPort}"
  routes: [${n.routes.map((r) => `"nats-route://${r}"`).join(', ')}]
}
`;

const msg = (id: string) => {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', id);
  return h;
};

async function streamInfoWithin(nc: NatsConnection, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await (await jetstreamManager(nc, { timeout: 5_000 })).streams.info(STREAM);
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('publisher: a publish waiting on a dead stream leader is resent after the cluster change', () => {
  let cluster: TestNatsCluster;
  let nc: NatsConnection | undefined;
  let admin: NatsConnection | undefined;

  beforeAll(async () => {
    cluster = await startTestNatsCluster({ name: 'resend', config: plainNode });
    admin = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: STREAM, subjects: ['resend.>'], num_replicas: 3, duplicate_window: 120_000_000_000 });
  }, 120_000);
  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await cluster?.stop();
  });

  it(`a publish made as the leader dies is acknowledged within ${BOUND_MS / 1000} s (its deadline is ${DEADLINE_MS / 1000} s), stored once`, async () => {
    const jsm = await jetstreamManager(admin!);
    const leader = cluster.indexOf((await jsm.streams.info(STREAM)).cluster!.leader!);
    const other = cluster.nodes.find((n) => n.index !== leader)!;
    // The publisher's connection is to a survivor only: its node never dies, only the stream's leader does.
    nc = await connect({ servers: [other.url], noRandomize: true, reconnect: false });
    const pub = new AsyncPublisher(nc, `_INBOX_resend`);
    try {
      // A new R3 stream answers once its leader is elected and its interest has reached every node.
      const warm = Date.now() + 20_000;
      for (;;) {
        try {
          expect((await pub.publish('resend.a', new TextEncoder().encode('before'), msg('m-0'), DEADLINE_MS)).seq).toBe(1);
          break;
        } catch (err) {
          if (Date.now() > warm) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await cluster.kill(leader);
      const t0 = Date.now();
      const ack = await Promise.race([
        pub.publish('resend.a', new TextEncoder().encode('after'), msg('m-1'), DEADLINE_MS),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not acknowledged within ${BOUND_MS} ms`)), BOUND_MS)),
      ]);
      const ms = Date.now() - t0;
      console.info(`[publish-resend] leader (node ${leader}) SIGKILLed → publish acknowledged in ${ms} ms (duplicate: ${ack.duplicate})`);
      expect(ack.stream).toBe(STREAM);
      // Whichever of the copies the new leader stored first, the stream holds the message once.
      const again = await pub.publish('resend.a', new TextEncoder().encode('after'), msg('m-1'), DEADLINE_MS);
      expect(again.duplicate).toBe(true);
      expect(again.seq).toBe(ack.seq);
      // The JetStream API may still be electing its meta leader (the dead node may have led it): ask until it answers.
      const info = await streamInfoWithin(nc, 30_000);
      expect(info.state.messages).toBe(2);
    } finally {
      pub.close();
    }
  }, 120_000);
});
