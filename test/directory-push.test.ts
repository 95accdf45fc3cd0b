/**
 * The exchange pushes every new directory, even when what it does first on a change fails (adopting the policy, which
 * records it in a JetStream bucket, can time out while a cluster node is down). Before, such a failure dropped the
 * push for good — the file no longer differed from what the service held — and an agency waiting for its re-issued
 * JWT was cut by the policy apply and refused from then on (issue 16).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDirectoryService } from '../services/exchange/directory-service.ts';
import { DIRECTORY_UPDATE_SUBJECT } from '../services/sdk/subjects.ts';
import { trustPaths, writeDirectory } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

describe('directory push', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-coast-guard'], name: 'directory-push' });
  }, 60_000);
  afterAll(async () => fed?.stop());

  it('goes out when the exchange fails to follow the change first', async () => {
    // Only this service pushes (the exchange's own one is stopped); the step before the push fails like a JetStream timeout.
    fed.exchange.directory.stop();
    let failed = 0;
    const service = await startDirectoryService({
      nc: fed.exchange.admin,
      host: fed.exchange.services,
      file: trustPaths(fed.trustDir).directory,
      pollMs: 60_000,
      onChange: async () => {
        failed++;
        throw new Error('TIMEOUT');
      },
    });
    const pushed: string[] = [];
    const sub = fed.exchange.admin.subscribe(DIRECTORY_UPDATE_SUBJECT, { callback: (_err, msg) => void pushed.push(msg.string()) });
    await fed.exchange.admin.flush();
    await new Promise((r) => setTimeout(r, 1_100));
    await writeDirectory(fed.trustDir);
    expect(await service.refresh()).toBe(true);
    await fed.exchange.admin.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(failed).toBe(1);
    expect(pushed).toHaveLength(1);
    service.stop();
    sub.unsubscribe();
  }, 30_000);
});
