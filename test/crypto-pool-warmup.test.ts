/**
 * A fresh crypto pool does not make its first jobs wait for a worker thread to start (issue 16): starting a
 * thread and loading its module takes 64–161 ms against 0–9 ms for a sign, and a process's first message after
 * `LiaisonClient.connect` used to wait that long. Until a thread has started (told the pool it listens), jobs run
 * on the calling thread, a bounded number per turn; from then on they go to the threads. Real worker threads,
 * real node:crypto; no wall-clock bound — the order of events and the pool's counters tell where each job ran.
 */
import { sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CryptoPool, MAX_INLINE_PER_TURN } from '../services/sdk/crypto/pool.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { expectedOf, keys, randomCases } from './support/crypto-cases.ts';
import { until } from './support/workflows.ts';

const pools: CryptoPool[] = [];
function pool(o: Parameters<typeof CryptoPool.create>[0]): CryptoPool {
  const p = CryptoPool.create(o);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('crypto pool start-up (issue 16)', () => {
  it('the first jobs of a fresh pool are answered on the calling thread before its thread is even online, exactly as node:crypto', async () => {
    const cases = randomCases(8);
    const inputs = cases.slice(0, 4).map((c) => c.input);
    const p = pool({ size: 1 });
    const events: string[] = [];
    p.threads[0]!.once('online', () => events.push('thread online'));
    const verified = Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)));
    const signed = Promise.all(inputs.map((x, i) => p.sign(x, keys[i]!.privateKey)));
    const [got, sigs] = await Promise.all([verified, signed]);
    events.push('jobs answered');
    expect(got).toEqual(expectedOf(cases));
    sigs.forEach((s, i) => expect(Buffer.from(s)).toEqual(sign(null, inputs[i]!, keys[i]!.privateKey)));
    expect(p.stats()).toMatchObject({ inline: 12, jobs: 0, batches: 0, started: 0 });
    await p.ready();
    expect(events).toEqual(['jobs answered', 'thread online']);
  });

  it('once its threads have started (ready()), jobs go to them in batches and none runs inline', async () => {
    const p = pool({ size: 2 });
    await p.ready();
    expect(p.stats().started).toBe(2);
    const cases = randomCases(64);
    expect(await Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)))).toEqual(expectedOf(cases));
    expect(p.stats()).toMatchObject({ inline: 0, jobs: 64 });
    expect(p.stats().batches).toBeGreaterThanOrEqual(1);
    expect(p.stats().batches).toBeLessThanOrEqual(2);
  });

  it('a burst during start-up runs at most MAX_INLINE_PER_TURN jobs per turn on the calling thread; the rest wait their turn and every job is answered', async () => {
    const cases = randomCases(400);
    const p = pool({ size: 1 });
    const all = Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub)));
    await nextTurn(); // the pool's first flush ran just before this
    expect(p.stats().inline).toBe(MAX_INLINE_PER_TURN);
    expect(p.stats().waiting).toBe(400 - MAX_INLINE_PER_TURN);
    expect(await all).toEqual(expectedOf(cases));
    expect(p.stats().inline + p.stats().jobs).toBe(400);
    expect(p.stats().queued).toBe(0);
  });

  it('while a dead thread’s replacement starts, new jobs run on the calling thread and none fails', async () => {
    const p = pool({ size: 1 });
    await p.ready();
    const dying = p.threads[0]!;
    await dying.terminate();
    await until(() => p.stats().restarts === 1, 10_000, 'the dead thread replaced');
    expect(p.stats().started).toBe(0);
    const cases = randomCases(20);
    const got = await Promise.all(cases.map((c) => p.verify(c.input, c.sig, c.pub).catch((err: unknown) => (isLiaisonError(err) ? err.code : err))));
    expect(got).toEqual(expectedOf(cases));
    expect(p.stats()).toMatchObject({ inline: 20, jobs: 0 });
    await p.ready();
    expect(p.stats().started).toBe(1);
  });

  it('ready() of a pool of size 0 resolves at once; a closed pool’s ready() resolves too', async () => {
    await pool({ size: 0 }).ready();
    const p = pool({ size: 1 });
    const thread = p.threads[0]!;
    const ready = p.ready();
    await p.close();
    await ready;
    expect(thread.threadId).toBe(-1); // ended
  });
});
