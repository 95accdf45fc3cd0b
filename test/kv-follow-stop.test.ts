import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { agencyJetStream } from '../services/sdk/client/agency-js.ts';
import { KvReader } from '../services/sdk/state/kv-reader.ts';
import { bucketName } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/**
 * A stopped follow of a KV bucket (the case registry's watch, issue 13) reports nothing more: changes
 * seen but not yet re-read when it stops are dropped, not re-read against a connection that is closing
 * (which logged one warning per changed key at every stop of a busy case registry).
 */
describe('KvReader.follow stops', () => {
  let fed: TestFederation;
  let client: LiaisonClient;
  const bucket = bucketName('mac-cases', 'cases');

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['mac-cases'], name: 'kv-follow-stop' });
    client = await fed.connect('mac-cases');
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('after stop() no value and no error is reported, though changes were still waiting to be re-read', async () => {
    const reader = await KvReader.open(client.nc, bucket);
    let stopped = false;
    const late: string[] = [];
    let seen = 0;
    const following = await reader.follow({
      onValue: (v) => {
        seen++;
        if (stopped) late.push(`value ${v.key}`);
      },
      onError: (err) => void (stopped && late.push(`error ${err.message}`)),
    });
    const kv = await new Kvm(agencyJetStream(client.nc)).open(bucket, { allow_direct: true });
    // Many changes at once: their notices arrive faster than the follow re-reads them one by one.
    await Promise.all(Array.from({ length: 300 }, (_, i) => kv.put(`case.k${i}`, new TextEncoder().encode(String(i)))));
    await new Promise((r) => setTimeout(r, 20));
    following.stop();
    stopped = true;
    expect(seen).toBeLessThan(300); // Some changes were still waiting: the case this test is about.
    await client.close(); // What a stopping service does next.
    await new Promise((r) => setTimeout(r, 500));
    expect(late).toEqual([]);
  });
});
