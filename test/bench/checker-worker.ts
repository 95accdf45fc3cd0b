import { parentPort, workerData } from 'node:worker_threads';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { requestHash, serverFor } from '../../services/sdk/client/rpc.ts';
import { openEnvelope } from '../../services/sdk/envelope/open.ts';
import { serviceSubject } from '../../services/sdk/subjects.ts';

/**
 * Registry benchmark client, in a worker thread (the checking agency's own core): signed document
 * checks, paced at `rate` per second (latency) or closed loop with `window` in flight (throughput).
 * One check in `hitEvery` asks for a reported number (INTERPOL: ≈ 232 k hits in 3.6 bn searches).
 * With `presign`, the paced run signs every request before it starts and verifies every reply after it
 * ends (all of them, same checks as `client.request`): the asker's own signing and verifying — which on a
 * real deployment run on the asker's host — then do not compete for this machine's cores during the window.
 */
interface Job {
  agencyDir: string;
  url: string;
  records: number;
  count: number;
  rate?: number;
  window?: number;
  hitEvery: number;
  presign?: boolean;
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
  if (job.rate && job.presign) {
    const info = client.catalog.get('DocumentCheckRequest');
    const server = serverFor(client.policy, info.name);
    const subject = serviceSubject(info.family, info.name, client.id);
    const hitOf = (i: number) => i % job.hitEvery === 0;
    const sealed = Array.from({ length: job.count }, (_, i) => {
      const n = hitOf(i) ? (i * 7919) % job.records : job.records + i;
      const copy = client.seal(info.name, { documentNumber: number(n), issuingCountry: 'XAA' }, { to: server }).copies[0]!;
      const h = natsHeaders();
      for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
      return { data: copy.data, headers: h };
    });
    const replies: Msg[] = new Array(job.count);
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < job.count; i++) {
      const wait = start + (i * 1000) / job.rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = performance.now();
      inflight.push(
        client.nc.request(subject, sealed[i]!.data, { headers: sealed[i]!.headers, timeout: 5_000 }).then((m) => {
          lat.push(performance.now() - t);
          replies[i] = m;
        }),
      );
    }
    await Promise.all(inflight);
    const seconds = (performance.now() - start) / 1000;
    const ctx = client.openContext();
    for (let i = 0; i < job.count; i++) {
      const m = replies[i]!;
      const r = openEnvelope(ctx, { subject: m.subject, data: m.data, header: (n) => m.headers?.get(n) || undefined }, { route: 'reply', from: server, requestHash: requestHash(sealed[i]!.data) });
      if ((r.body.outcome === 'CHECK_OUTCOME_HIT') !== hitOf(i)) throw new Error(`check ${i}: unexpected ${String(r.body.outcome)}`);
    }
    await client.close();
    parentPort?.postMessage({ lat, seconds, count: job.count });
    return;
  }
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
