/**
 * The receive path with signatures checked on a crypto pool's worker threads (issue 16, "every core at
 * work"): a forged copy is still quarantined and never handed over, handlers are still called in delivery
 * order (in-order and concurrent consumers), and a worker that dies mid-backlog loses nothing. Real
 * nats-server, real federation, real worker threads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { leaseCryptoPool, type CryptoPoolLease } from '../services/sdk/crypto/shared.ts';
import type { ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
/** The receiver's pool: two threads, so their answers can come back out of order. */
const WORKERS = 2;
const report = (summary: string) => ({ summary, migrantsCount: 1, assessment: 'crypto pool test' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consuming with signatures checked on worker threads (issue 16)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  /** The same process-wide pool the receivers lease: its counters show the checks ran there. */
  let lease: CryptoPoolLease;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'crypto-pool' });
    police = await fed.connect(SENDER, { cryptoWorkers: 0 });
    lease = leaseCryptoPool(WORKERS);
    await lease.pool.ready(); // its threads have started: checks go to them (before, they run inline: crypto-pool-warmup)
  }, 120_000);
  afterAll(async () => {
    lease?.release();
    await police?.close();
    await fed?.stop();
  });

  /** Send `n` reports (stored before anyone consumes), every `badEvery`-th with one bit of its signature flipped. */
  async function store(n: number, label: string, badEvery = 0): Promise<{ good: string[]; bad: string[] }> {
    const good: string[] = [];
    const bad: string[] = [];
    for (let i = 0; i < n; i++) {
      const sealed = police.seal(TYPE, report(`${label} ${i}`), { to: RECEIVER });
      const forged = badEvery > 0 && i % badEvery === badEvery - 1;
      if (forged) for (const c of sealed.copies) c.data[c.data.length - 10]! ^= 0x04;
      (forged ? bad : good).push(sealed.id);
      await police.publishSealed(sealed);
    }
    return { good, bad };
  }

  /** Consume with the pool until `n` are handled or refused; what the handler got, in call order, and the refusals. */
  async function receive(n: number, opts: { concurrency?: number; handlerMs?: number; during?: (got: string[]) => void; cryptoWorkers?: number } = {}) {
    const centre = await fed.connect(RECEIVER, { cryptoWorkers: opts.cryptoWorkers ?? WORKERS });
    const got: string[] = [];
    let redelivered = 0;
    const rejected: Rejection[] = [];
    const jobsBefore = lease.pool.stats().jobs;
    await centre.consume(
      async (m: ReceivedMessage) => {
        got.push(m.header.id);
        if ((m.delivery?.deliveryCount ?? 1) > 1) redelivered++;
        opts.during?.(got);
        if (opts.handlerMs) await sleep(Math.random() * opts.handlerMs);
      },
      { types: [TYPE], onReject: (r) => rejected.push(r), ...(opts.concurrency ? { concurrency: opts.concurrency } : {}) },
    );
    await until(() => got.length + rejected.length >= n, 60_000, `${n} copies handled or refused`);
    await sleep(300); // nothing more arrives (no copy handed over twice)
    await centre.close();
    return { got, rejected, redelivered, poolJobs: lease.pool.stats().jobs - jobsBefore };
  }

  it('a copy whose signature does not verify is quarantined as ERR_SIGNATURE_INVALID and never reaches the handler', async () => {
    const { good, bad } = await store(60, 'forged', 5);
    expect(bad.length).toBe(12);
    const { got, rejected, poolJobs } = await receive(60);
    expect(poolJobs).toBeGreaterThanOrEqual(60); // the checks ran on the pool, not inline
    expect(rejected.map((r) => r.code)).toEqual(Array(12).fill('ERR_SIGNATURE_INVALID'));
    expect(rejected.every((r) => r.claimedSender === SENDER)).toBe(true);
    expect(got).toEqual(good);
    expect(got.some((id) => bad.includes(id))).toBe(false);
  });

  it('handlers are called in delivery order with the pool on: in-order consumer with a slow async handler', async () => {
    const { good } = await store(400, 'ordered');
    const { got, rejected, poolJobs } = await receive(400, { handlerMs: 2 });
    expect(poolJobs).toBeGreaterThanOrEqual(400);
    expect(rejected).toEqual([]);
    expect(got).toEqual(good);
  });

  it('handlers are called in delivery order with the pool on: concurrent consumer (concurrency 8)', async () => {
    const { good } = await store(400, 'concurrent');
    const { got, rejected } = await receive(400, { concurrency: 8, handlerMs: 5 });
    expect(rejected).toEqual([]);
    expect(got).toEqual(good);
  });

  it('a sender with crypto threads signs there; every copy verifies at a receiver checking on its event loop', async () => {
    const sender = await fed.connect(SENDER, { cryptoWorkers: WORKERS });
    const before = lease.pool.stats().jobs;
    const sent = await Promise.all(Array.from({ length: 80 }, (_, i) => sender.send(TYPE, report(`pool-signed ${i}`), { to: RECEIVER })));
    expect(lease.pool.stats().jobs - before).toBeGreaterThanOrEqual(80); // signed on the pool
    expect(lease.pool.stats().batches).toBeLessThan(lease.pool.stats().jobs); // in batches
    await sender.close();
    const { got, rejected, poolJobs } = await receive(80, { cryptoWorkers: 0 });
    expect(poolJobs).toBe(0);
    expect(rejected).toEqual([]);
    expect(new Set(got)).toEqual(new Set(sent.map((s) => s.id)));
  });

  it('a crypto worker that dies mid-backlog loses nothing: the checks it held are done again (or, lost twice, their copies come back), each copy handled once, none quarantined', async () => {
    const { good } = await store(600, 'dying');
    const before = lease.pool.stats();
    let kills = 0;
    const { got, rejected, redelivered } = await receive(600, {
      during: (seen) => {
        // Once checks are out on started threads (posted, unanswered), kill every thread. A thread may answer its batch
        // before terminate() lands (nothing then fails): kill again later, until a death took checks with it.
        const s = lease.pool.stats();
        if (kills < 12 && s.lostWithThread === before.lostWithThread && seen.length >= 50 + kills * 25 && s.queued > 0 && s.started === s.threads) {
          kills++;
          for (const t of lease.pool.threads) void t.terminate();
        }
      },
    });
    const after = lease.pool.stats();
    const lost = after.lostWithThread - before.lostWithThread;
    const redone = after.redoneAfterLoss - before.redoneAfterLoss;
    expect(after.restarts).toBeGreaterThan(before.restarts);
    expect(lost, `checks lost with a dying thread (${kills} kills)`).toBeGreaterThan(0);
    // The pool did the lost checks again (crypto-pool-lost); only a check lost a second time (both threads were killed at
    // once, so the other may die holding it too) failed ERR_CRYPTO_WORKER, its copy nak'ed and handed back later.
    expect(redone).toBeGreaterThan(0);
    expect(redelivered).toBeLessThanOrEqual(lost - redone);
    expect(rejected).toEqual([]);
    expect(new Set(got).size).toBe(got.length);
    expect(new Set(got)).toEqual(new Set(good));
  });
});
