import { randomBytes, randomInt, sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CryptoPool, MAX_JOBS_PER_BATCH } from '../services/sdk/crypto/pool.ts';
import { defaultCryptoWorkers } from '../services/sdk/crypto/size.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { keys, randomCases } from './support/crypto-cases.ts';

const pools: CryptoPool[] = [];
function pool(o: Parameters<typeof CryptoPool.create>[0]): CryptoPool {
  const p = CryptoPool.create(o);
  pools.push(p);
  return p;
}
/** A pool whose threads have started, so its jobs go to them (before, they run on the calling thread: crypto-pool-warmup). */
async function started(o: Parameters<typeof CryptoPool.create>[0]): Promise<CryptoPool> {
  const p = pool(o);
  await p.ready();
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('crypto pool (worker threads)', () => {
  it('verify answers exactly as node:crypto on random genuine, tampered and wrong-key inputs, on threads and inline', async () => {
    const cases = randomCases(300);
    const expected = cases.map((c) => verify(null, c.input, c.pub, c.sig));
    expect(expected.filter(Boolean).length).toBeGreaterThan(30);
    expect(expected.filter((x) => !x).length).toBeGreaterThan(30);
    for (const size of [2, 0]) {
      const p = await started({ size });
      expect(p.size).toBe(size);
      expect(p.threads.length).toBe(size);
      const got = await Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)));
      expect(got).toEqual(expected);
      expect(p.stats().inline).toBe(size === 0 ? 300 : 0);
    }
  });

  it('a tampered signature is false; a genuine one true', async () => {
    const p = await started({ size: 1 });
    const input = Buffer.from('liaison signing input');
    const sig = sign(null, input, keys[0]!.privateKey);
    expect(await p.verify(input, sig, keys[0]!.publicKey)).toBe(true);
    const bad = Buffer.from(sig);
    bad[10]! ^= 0x40;
    expect(await p.verify(input, bad, keys[0]!.publicKey)).toBe(false);
  });

  it('sign gives node:crypto’s Ed25519 signature (deterministic), which verifies', async () => {
    const p = await started({ size: 2 });
    const inputs = Array.from({ length: 50 }, () => randomBytes(randomInt(1, 800)));
    const sigs = await Promise.all(inputs.map((x, i) => p.sign(x, keys[i % keys.length]!.privateKey)));
    sigs.forEach((s, i) => {
      expect(Buffer.from(s)).toEqual(sign(null, inputs[i]!, keys[i % keys.length]!.privateKey));
      expect(verify(null, inputs[i]!, keys[i % keys.length]!.publicKey, s)).toBe(true);
    });
  });

  it('jobs submitted in one turn go to a thread as one batch, not one message each', async () => {
    const p = await started({ size: 1 });
    const cases = randomCases(64);
    await Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)));
    expect(p.stats().jobs).toBe(64);
    expect(p.stats().batches).toBe(1);
  });

  it('a large turn goes as batches of at most MAX_JOBS_PER_BATCH, so a thread has the next one waiting', async () => {
    const p = await started({ size: 1 });
    const cases = randomCases(300);
    expect(await Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)))).toEqual(cases.map((c) => verify(null, c.input, c.pub, c.sig)));
    expect(p.stats().batches).toBe(Math.ceil(300 / MAX_JOBS_PER_BATCH));
  });

  it('a thread that dies is replaced; the jobs it held are done again (none hangs, none fails) and the pool keeps working', async () => {
    const p = await started({ size: 1 });
    const cases = randomCases(400);
    const results = cases.map((c) => p.verify(c.input, c.sig, c.pub).then((v) => ({ v }), (err: unknown) => ({ err })));
    await new Promise((r) => setImmediate(r)); // the batch is posted
    const dying = p.threads[0]!;
    await dying.terminate();
    const settled = await Promise.race([Promise.all(results), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    expect(settled).not.toBe('hung');
    expect(settled).toEqual(cases.map((c) => ({ v: verify(null, c.input, c.pub, c.sig) })));
    expect(p.stats().lostWithThread).toBeGreaterThan(0);
    expect(p.stats().redoneAfterLoss).toBe(p.stats().lostWithThread);
    expect(p.stats().restarts).toBe(1);
    expect(p.threads[0]).not.toBe(dying);
    const again = randomCases(50);
    expect(await Promise.all(again.map((c) => p.verify(c.input, c.sig, c.pub)))).toEqual(again.map((c) => verify(null, c.input, c.pub, c.sig)));
    expect(p.stats().queued).toBe(0);
  });

  it('at most maxQueued jobs are posted at once; the rest wait in the pool and all are answered', async () => {
    const p = await started({ size: 2, maxQueued: 16 });
    const cases = randomCases(300);
    const all = Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)));
    expect(p.stats().waiting).toBe(300);
    await new Promise((r) => setImmediate(r));
    expect(p.stats().queued).toBe(16);
    expect(p.stats().waiting).toBe(284);
    expect(await all).toEqual(cases.map((c) => verify(null, c.input, c.pub, c.sig)));
    expect(p.stats().queuedHighWater).toBe(16);
    expect(p.stats().queued).toBe(0);
  });

  it('close() ends every thread, fails what it held with ERR_CRYPTO_WORKER, and refuses new jobs', async () => {
    const p = await started({ size: 2 });
    const threads = [...p.threads];
    const exits = threads.map((t) => new Promise<number>((r) => t.once('exit', r)));
    const held = randomCases(100).map((c) => p.verify(c.input, c.sig, c.pub).then(() => 'answered', (err: unknown) => (isLiaisonError(err, 'ERR_CRYPTO_WORKER') ? 'failed' : 'other')));
    await p.close();
    await Promise.all(exits);
    expect(threads.map((t) => t.threadId)).toEqual([-1, -1]);
    expect(new Set(await Promise.all(held))).toEqual(new Set(['failed']));
    await expect(p.verify(Buffer.from('x'), Buffer.alloc(64), keys[0]!.publicKey)).rejects.toMatchObject({ code: 'ERR_CRYPTO_WORKER' });
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort')).toEqual([]);
  });

  it('the default size is one thread per core beyond the event loop’s, capped at 8; a bad size is ERR_USAGE', () => {
    expect([defaultCryptoWorkers(1), defaultCryptoWorkers(2), defaultCryptoWorkers(4), defaultCryptoWorkers(64)]).toEqual([0, 1, 3, 8]);
    expect(() => CryptoPool.create({ size: -1 })).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    expect(() => CryptoPool.create({ size: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });
});
