import { queryObjects } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { RecordWriter } from '../services/sdk/client/record-writer.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/**
 * A closed client leaves nothing of itself behind (issue 16): its handled record's writer sweeps its pending writes
 * on a timer, and a timer never cleared keeps the writer — and through it the closed connection — alive for the life
 * of the process. A process that connects and closes clients again and again (a test run, a tool opening one client
 * per job) would grow by one writer and one connection each time. Counted with V8's own heap query (it collects
 * garbage first), on real clients of a real federation.
 */
const AGENCY = 'xa-border-police';
const ROUNDS = 12;

describe('a closed LiaisonClient releases its handled record', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [AGENCY], name: 'client-close-release' });
  }, 60_000);
  afterAll(async () => fed?.stop());

  it(`${ROUNDS} clients connected and closed leave no RecordWriter alive`, async () => {
    const live = () => queryObjects(RecordWriter, { format: 'count' }) as number;
    // Not through fed.connect: the fixture keeps the clients it made (to close them at its stop).
    const connect = () => LiaisonClient.connect({ agencyDir: fed.agencyDirs[AGENCY]!, catalog: fed.catalog });
    // One round first: whatever is created once per process (and kept) is not what this test counts.
    await (await connect()).close();
    const before = live();
    for (let i = 0; i < ROUNDS; i++) await (await connect()).close();
    const after = live();
    console.info(`[client-close-release] RecordWriters alive: ${before} before, ${after} after ${ROUNDS} clients`);
    expect(after - before, 'writers kept alive by closed clients').toBeLessThan(ROUNDS / 2);
  }, 120_000);
});
