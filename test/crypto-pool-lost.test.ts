/**
 * A crypto pool job lost with its worker thread is done again, once (issue 16): verify and sign are pure, so the pool
 * submits the jobs a dead thread held again instead of failing them with ERR_CRYPTO_WORKER (which a service answering
 * a request passed on to its asker as a refusal). Only those: a job that failed on its own (node:crypto threw for it)
 * is failed, never done again; and a job lost a second time fails, so a job does not go round the pool for ever. The
 * pool's counters count the work posted to the threads and run inline. Real worker threads, real node:crypto.
 */
import { randomBytes, sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CryptoPool, type CryptoPoolStats } from '../services/sdk/crypto/pool.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { expectedOf, keys, randomCases } from './support/crypto-cases.ts';
import { until } from './support/workflows.ts';

const pools: CryptoPool[] = [];
async function started(o: Parameters<typeof CryptoPool.create>[0]): Promise<CryptoPool> {
  const p = CryptoPool.create(o);
  pools.push(p);
  await p.ready();
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
const nextTurn = () => new Promise((r) => setImmediate(r));
/** A settled job: its value, or the error it failed with. */
type Fate = { v: boolean | Uint8Array } | { err: unknown };
const fateOf = (p: Promise<boolean | Uint8Array>): Promise<Fate> => p.then((v) => ({ v }), (err: unknown) => ({ err }));
/** How much each counter moved. */
const delta = (a: CryptoPoolStats, b: CryptoPoolStats) => ({
  jobs: b.jobs - a.jobs,
  inline: b.inline - a.inline,
  lost: b.lostWithThread - a.lostWithThread,
  redone: b.redoneAfterLoss - a.redoneAfterLoss,
  restarts: b.restarts - a.restarts,
});
/** A signing job that fails on its own wherever it runs: node:crypto refuses to sign with a public key. */
const ownFailure = (p: CryptoPool) => p.sign(randomBytes(32), keys[0]!.publicKey);

describe('crypto pool: a job lost with its thread is done again, once (issue 16)', () => {
  it('the jobs a killed thread held are answered by the next thread, exactly as node:crypto, each posted once more; a job failing on its own among them is failed, not done again', async () => {
    const p = await started({ size: 2 });
    // A thread may answer its batches before terminate() lands (nothing lost): try again, at most 10 times.
    for (let attempt = 1; ; attempt++) {
      const before = p.stats();
      const cases = randomCases(400);
      const verified = cases.map((c) => fateOf(p.verify(c.input, c.sig, c.pub)));
      const own = Array.from({ length: 4 }, () => fateOf(ownFailure(p)));
      await nextTurn(); // posted: two batches on each thread
      expect(p.stats().queued).toBe(404);
      await p.threads[0]!.terminate();
      const got = await Promise.all(verified);
      const owned = await Promise.all(own);
      await until(() => p.stats().restarts - before.restarts === 1 && p.stats().started === 2, 30_000, 'the dead thread replaced');
      const d = delta(before, p.stats());
      if (d.lost === 0 && attempt < 10) continue;
      expect(d.lost, `attempt ${attempt}: the killed thread held jobs`).toBeGreaterThan(0);
      // Every verification answered with node:crypto's answer: none refused for the thread's death.
      expect(got).toEqual(expectedOf(cases).map((v) => ({ v })));
      // The jobs failing on their own failed as themselves (node:crypto's refusal), whether or not the death took them.
      for (const f of owned) {
        expect('err' in f && isLiaisonError(f.err, 'ERR_CRYPTO_WORKER') && /could not sign/.test(f.err.message), String('err' in f ? f.err : 'answered')).toBe(true);
      }
      // Each lost job submitted again once, to the surviving thread or the replacement (started threads): posted
      // exactly once more — none dropped, none done twice, none on the calling thread.
      expect(d).toEqual({ jobs: 404 + d.lost, inline: 0, lost: d.lost, redone: d.lost, restarts: 1 });
      expect(p.stats().queued).toBe(0);
      return;
    }
  });

  it('a job that fails on its own is failed once and never submitted again (only a thread’s death makes a job go again)', async () => {
    const p = await started({ size: 1 });
    const before = p.stats();
    const cases = randomCases(60);
    const verified = cases.map((c) => fateOf(p.verify(c.input, c.sig, c.pub)));
    const own = Array.from({ length: 6 }, () => fateOf(ownFailure(p)));
    expect(await Promise.all(verified)).toEqual(expectedOf(cases).map((v) => ({ v })));
    for (const f of await Promise.all(own)) expect('err' in f && isLiaisonError(f.err, 'ERR_CRYPTO_WORKER')).toBe(true);
    expect(delta(before, p.stats())).toEqual({ jobs: 66, inline: 0, lost: 0, redone: 0, restarts: 0 });
  });

  it('a job lost a second time fails with ERR_CRYPTO_WORKER instead of going round again; every other job is answered, none twice', async () => {
    // A fresh pool per attempt: a death may come too late to take jobs with it (a thread answering before terminate()
    // lands); at most 10 attempts.
    for (let attempt = 1; ; attempt++) {
      const p = await started({ size: 2 });
      const before = p.stats();
      const cases = randomCases(400);
      const signInputs = Array.from({ length: 40 }, () => randomBytes(100));
      const verified = cases.map((c) => fateOf(p.verify(c.input, c.sig, c.pub)));
      const signed = signInputs.map((x) => fateOf(p.sign(x, keys[1]!.privateKey)));
      await nextTurn(); // posted: two batches on each thread
      // Kill one thread (its jobs go again, to the other); once they are all posted again, kill every thread running.
      const killed = new Set<object>([p.threads[0]!]);
      void p.threads[0]!.terminate();
      await until(() => p.stats().lostWithThread > before.lostWithThread || p.stats().queued === 0, 30_000, 'the first thread dead or its jobs answered');
      await until(() => p.stats().waiting === 0, 30_000, 'the lost jobs posted again');
      for (const t of p.threads.filter((w) => !killed.has(w))) void t.terminate();
      const got = await Promise.all(verified);
      const sigs = await Promise.all(signed);
      const d = delta(before, p.stats());
      const lostTwice = d.lost - d.redone;
      if (lostTwice === 0 && attempt < 10) continue;
      expect(lostTwice, `attempt ${attempt}: ${d.lost} losses, ${d.redone} done again`).toBeGreaterThan(0);
      // Each job done again at most once: only first losses, no more than there are jobs.
      expect(d.redone).toBeLessThanOrEqual(440);
      const refused = [...got, ...sigs].filter((f) => 'err' in f);
      // Exactly the jobs lost twice were refused, each with ERR_CRYPTO_WORKER naming its second loss.
      expect(refused.length).toBe(lostTwice);
      for (const f of refused) expect(isLiaisonError(f.err, 'ERR_CRYPTO_WORKER') && f.err.details['losses'] === 2, String(f.err)).toBe(true);
      const expected = expectedOf(cases);
      got.forEach((f, i) => 'v' in f && expect(f.v).toBe(expected[i]));
      sigs.forEach((f, i) => 'v' in f && expect(Buffer.from(f.v as Uint8Array)).toEqual(sign(null, signInputs[i]!, keys[1]!.privateKey)));
      // Every job posted or run once, plus once more per first loss (a job lost twice: two tries, then refused).
      expect(d.jobs + d.inline).toBe(440 + d.redone);
      return;
    }
  });
});
