/**
 * The crypto pool gathers jobs that arrive one per turn while its thread is behind (issue 16: a service's requests
 * each come in their own socket read, and were handed to the thread one postMessage each): at most
 * MAX_BATCHES_IN_FLIGHT batches per thread, the jobs submitted meanwhile go out together at the next answer. An idle
 * thread still gets a job at once; every job is handed over exactly once and answered exactly as node:crypto; a thread
 * that dies with gathered jobs waiting loses only what it held, and that goes again (crypto-pool-lost). Real worker
 * threads, real node:crypto.
 */
import { randomBytes, sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CryptoPool, MAX_BATCHES_IN_FLIGHT } from '../services/sdk/crypto/pool.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { keys } from './support/crypto-cases.ts';
import { until } from './support/workflows.ts';

const pools: CryptoPool[] = [];
async function started(size: number): Promise<CryptoPool> {
  const p = CryptoPool.create({ size });
  pools.push(p);
  await p.ready();
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

const nextTurn = () => new Promise<void>((r) => setImmediate(r));
/** An input whose verification takes the thread milliseconds (hashing 1 MiB), so it falls behind jobs sent one per turn. */
const big = randomBytes(1 << 20);
const key = keys[0]!;
const bigSig = sign(null, big, key.privateKey);
const badSig = Buffer.from(bigSig);
badSig[5]! ^= 0x10;

/** What a job came to: its verification answer, or the code it failed with. */
type Outcome = boolean | string;
const outcomeOf = (p: Promise<boolean>): Promise<Outcome> => p.then((v) => v, (err: unknown) => (isLiaisonError(err) ? err.code : `untyped: ${String(err)}`));

/** Submit `n` verifications of the big input, one per turn of the event loop (every third one forged); `each` runs after each submit. */
async function onePerTurn(p: CryptoPool, n: number, each: (i: number) => void = () => undefined): Promise<{ outcomes: Promise<Outcome>[]; expected: boolean[] }> {
  const outcomes: Promise<Outcome>[] = [];
  const expected: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const forged = i % 3 === 2;
    expected.push(!forged);
    outcomes.push(outcomeOf(p.verify(big, forged ? badSig : bigSig, key.publicKey)));
    each(i);
    await nextTurn();
  }
  return { outcomes, expected };
}

describe('crypto pool: jobs arriving one per turn are gathered while the thread is behind (issue 16)', () => {
  it('an idle thread gets a lone job at once, as one batch of one (nothing waits to be gathered)', async () => {
    const p = await started(1);
    const answer = p.verify(big, bigSig, key.publicKey);
    await nextTurn(); // the pool's flush turn
    expect(p.stats()).toMatchObject({ queued: 1, waiting: 0, batches: 1 });
    expect(await answer).toBe(true);
  });

  it('jobs sent one per turn while the thread is behind go out several per postMessage, each answered once, as node:crypto', async () => {
    const p = await started(1);
    const n = 120;
    const { outcomes, expected } = await onePerTurn(p, n);
    expect(await Promise.all(outcomes)).toEqual(expected);
    expect(expected).toEqual(expected.map((_, i) => verify(null, big, key.publicKey, i % 3 === 2 ? badSig : bigSig)));
    const s = p.stats();
    // Every job handed over exactly once (none inline: the thread had started), none left behind.
    expect(s).toMatchObject({ jobs: n, inline: 0, queued: 0, waiting: 0 });
    // One batch per job before gathering (each turn flushed its own job): now at least two jobs per batch on average.
    expect(s.batches, `${s.batches} batches for ${n} jobs`).toBeLessThanOrEqual(n / 2);
    // Never more than MAX_BATCHES_IN_FLIGHT batches waiting in the thread: the rest waited in the pool.
    expect(s.queuedHighWater).toBeLessThan(n);
  });

  it(`a thread never holds more than MAX_BATCHES_IN_FLIGHT (${MAX_BATCHES_IN_FLIGHT}) batches; what arrives meanwhile waits in the pool`, async () => {
    const p = await started(1);
    let most = 0;
    let gathered = 0;
    const { outcomes, expected } = await onePerTurn(p, 60, () => {
      const s = p.stats();
      most = Math.max(most, s.batchesInFlight);
      gathered = Math.max(gathered, s.waiting);
    });
    expect(await Promise.all(outcomes)).toEqual(expected);
    expect(most).toBe(MAX_BATCHES_IN_FLIGHT); // the thread had its next batch waiting while it worked
    expect(gathered).toBeGreaterThan(0); // and jobs were gathered behind it
  });

  it('a thread that dies with gathered jobs waiting and nothing more submitted: every job answered as node:crypto; only the jobs it held are handed over again, once', async () => {
    const p = await started(1);
    const n = 120;
    const { outcomes, expected } = await onePerTurn(p, n);
    // Every job submitted; the thread is far behind (about 2 ms a job): it holds batches and others are gathered behind
    // it. Kill it now, so that only its death (no later submit) can send the gathered jobs on.
    const atKill = p.stats();
    expect(atKill.queued).toBeGreaterThan(0);
    expect(atKill.waiting).toBeGreaterThan(0);
    const dying = p.threads[0]!;
    await dying.terminate();
    const got = await Promise.race([Promise.all(outcomes), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    expect(got).not.toBe('hung');
    // Every job answered exactly as node:crypto, the ones the dead thread held included (done again), none failed.
    expect(got).toEqual(expected);
    const s = p.stats();
    expect(s.restarts).toBe(1);
    expect(p.threads[0]).not.toBe(dying);
    // The jobs the dead thread held were lost with it and handed over again; the ones gathered in the pool went to the
    // replacement (or ran inline while it started).
    expect(s.lostWithThread).toBeGreaterThan(0);
    expect(s.redoneAfterLoss).toBe(s.lostWithThread);
    // Each job handed over once (posted to a thread or run inline while the replacement started), plus once more for
    // each lost with the thread — never twice otherwise.
    expect(s.jobs + s.inline).toBe(n + s.lostWithThread);
    await until(() => p.stats().started === 1, 30_000, 'the replacement thread started');
    expect(await p.verify(big, bigSig, key.publicKey)).toBe(true);
    expect(p.stats()).toMatchObject({ queued: 0, waiting: 0 });
  });
});
