/**
 * The ¶16 registry verifying its checks and signing its answers on a crypto pool thread that dies mid-batch (issue 16):
 * every check is answered exactly once with its real outcome — a job that died with the thread is done again by the
 * pool (pool.ts), so the asker never gets an ERR_CRYPTO_WORKER refusal for a fault that is the service's and
 * transient — none is left to time out, and checks after the death are answered by the replacement. Real
 * nats-server, real federation, real worker threads.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { CryptoPool } from '../services/sdk/crypto/pool.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { createKeyedHasher } from '../services/registry/index/index.ts';
import { MapDocumentStore } from '../services/registry/map-store.ts';
import { PersonAlerts } from '../services/registry/persons.ts';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const STOLEN = { documentNumber: 'XA5550001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Amir Haddad' };
const CHECK = { documentNumber: 'XA5550001', issuingCountry: 'XAA' };
const HIT = 'CHECK_OUTCOME_HIT';

describe('¶16 registry: checks on a crypto thread that dies mid-batch (issue 16)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let asker: LiaisonClient;
  let ncb: LiaisonClient;
  let pool: CryptoPool;
  let registry: Registry;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'xb-police', 'xc-ncb'], name: 'registry-crypto-pool' });
    police = await fed.connect('xa-border-police');
    asker = await fed.connect('xb-police', { cryptoWorkers: 0 });
    ncb = await fed.connect('xc-ncb');
    pool = CryptoPool.create({ size: 1 });
    await pool.ready(); // checks go to its thread (before, they run on the event loop: crypto-pool-warmup)
    const key = randomBytes(32);
    registry = await startRegistry({ client: ncb, store: new MapDocumentStore(key), persons: new PersonAlerts(createKeyedHasher(key)), cryptoPool: pool, admission: { maxInProcess: 10_000, maxWaitMs: 60_000 } });
    await police.send('DocumentReport', STOLEN);
    await until(() => registry.stats.reports >= 1, 30_000, 'the stolen passport recorded');
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await pool?.close();
    for (const c of [ncb, asker, police]) await c?.close();
    await fed?.stop();
  });

  /** One check's fate: its outcome, or the code of the error it ended in. */
  const fate = (): Promise<string> =>
    asker.request('DocumentCheckRequest', CHECK, { timeoutMs: 30_000 }).then(
      (r) => String(r.body.outcome),
      (err: unknown) => (isLiaisonError(err) ? err.code : `untyped: ${String(err)}`),
    );

  it('a thread killed while it holds checks: every check answered once with its real outcome (a hit, never ERR_CRYPTO_WORKER), none timed out; the replacement answers the next', async () => {
    const before = pool.stats();
    let kills = 0;
    // Kill the pool's thread whenever it holds checks (posted, unanswered), until a death took some with it; a thread
    // may answer its batch before terminate() lands, so try again on its replacement (at most 5 times).
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const s = pool.stats();
        if (kills < 5 && s.restarts - before.restarts === kills && s.lostWithThread === before.lostWithThread && s.queued > 0 && s.started === s.threads) {
          kills++;
          void pool.threads[0]!.terminate();
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const fates: Promise<string>[] = [];
    for (let wave = 0; wave < 200 && pool.stats().lostWithThread === before.lostWithThread; wave++) {
      for (let i = 0; i < 10; i++) fates.push(fate());
      await new Promise((r) => setTimeout(r, 5));
    }
    const got = await Promise.all(fates);
    watching = false;
    await watch;
    await until(() => pool.stats().restarts - before.restarts === kills, 30_000, `${kills} dead thread(s) replaced`);
    const after = pool.stats();
    const lost = after.lostWithThread - before.lostWithThread;
    expect(lost, `${kills} kill(s), ${got.length} checks`).toBeGreaterThan(0);
    const counts: Record<string, number> = {};
    for (const f of got) counts[f] = (counts[f] ?? 0) + 1;
    // Every check answered with its real outcome: the verifications and signatures that died with the thread were done
    // again (once each), not refused.
    expect(counts, `${kills} kill(s), ${lost} job(s) lost with the thread`).toEqual({ [HIT]: got.length });
    expect(after.redoneAfterLoss - before.redoneAfterLoss, 'each job lost with its thread done again').toBe(lost);
    // The replacement answers the next checks (after its start-up, on the event loop meanwhile).
    const next = await Promise.all(Array.from({ length: 20 }, () => fate()));
    expect(next).toEqual(Array(20).fill(HIT));
  }, 120_000);
});
