import { parentPort, workerData } from 'node:worker_threads';
import { LiaisonClient } from '../../services/sdk/client/client.ts';

/**
 * Registry benchmark client, in a worker thread (the checking agency's own core): signed document
 * checks, paced at `rate` per second (latency) or closed loop with `window` in flight (throughput).
 * One check in `hitEvery` asks for a reported number (INTERPOL: ≈ 232 k hits in 3.6 bn searches).
 */
interface Job {
  agencyDir: string;
  url: string;
  records: number;
  count: number;
  rate?: number;
  window?: number;
  hitEvery: number;
}

const job = workerData as Job;
const number = (i: number) => `XA${String(i).padStart(9, '0')}`;

async function run(): Promise<void> {
  const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.url] });
  const check = async (i: number) => {
    const hit = i % job.hitEvery === 0;
    const n = hit ? (i * 7919) % job.records : job.records + i;
    const r = await client.request('DocumentCheckRequest', { documentNumber: number(n), issuingCountry: 'XAA' });
    if ((r.body.outcome === 'CHECK_OUTCOME_HIT') !== hit) throw new Error(`check ${number(n)}: unexpected ${String(r.body.outcome)}`);
  };
  for (let i = 1; i <= 300; i++) await check(i);
  const lat: number[] = [];
  const start = performance.now();
  if (job.rate) {
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < job.count; i++) {
      const wait = start + (i * 1000) / job.rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = performance.now();
      inflight.push(check(i).then(() => void lat.push(performance.now() - t)));
    }
    await Promise.all(inflight);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: job.window ?? 64 }, async () => {
        while (next < job.count) await check(next++);
      }),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  await client.close();
  parentPort?.postMessage({ lat, seconds, count: job.count });
}

run().catch((err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }));
