import { parentPort, workerData } from 'node:worker_threads';
import { connect, credsAuthenticator, headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { CompactSign, importJWK, type JWK } from 'jose';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { inboxPrefix } from '../../services/sdk/subjects.ts';

/**
 * Benchmark publisher, run in a worker thread so signing (sender side) and verifying (receiver
 * side) use different cores, as they would in two agencies' processes.
 *
 * mode 'liaison': LiaisonClient.send (protobuf, projection, node:crypto JWS, JetStream publish).
 * mode 'naive':   JSON body + jose CompactSign per message, JetStream publish of the compact JWS.
 * Either paced at `rate` msg/s (latency runs) or as fast as a window of in-flight publishes allows.
 */
interface Job {
  mode: 'liaison' | 'naive' | 'raw-js';
  agencyDir: string;
  agencyId: string;
  url: string;
  count: number;
  rate?: number;
  type: string;
  body: Record<string, unknown>;
  naiveSubject?: string;
  payloadBytes?: number;
  /** Body field that carries `bench <i> <sent-at ms>` (high resolution) for latency. */
  stampField?: string;
  to?: string;
  /** LiaisonClient `cryptoWorkers` of the liaison publisher (absent: the default). */
  cryptoWorkers?: number;
}

const job = workerData as Job;
const WINDOW = 512;
const WARMUP = 2_000;

async function run(): Promise<void> {
  let send: (i: number) => Promise<unknown>;
  let close: () => Promise<void>;
  if (job.mode === 'liaison') {
    const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.url], ...(job.cryptoWorkers === undefined ? {} : { cryptoWorkers: job.cryptoWorkers }) });
    const field = job.stampField ?? 'remarks';
    // Steady state: warm the JIT on the sealing path (validate, project, encode, sign) before timing.
    for (let i = 0; i < WARMUP; i++) client.seal(job.type, { ...job.body, [field]: `warmup ${i}` }, { to: job.to });
    send = (i) => client.send(job.type, { ...job.body, [field]: `bench ${i} ${performance.timeOrigin + performance.now()}` }, { tlp: 'GREEN', to: job.to });
    close = () => client.close();
  } else {
    const creds = await readFile(join(job.agencyDir, 'nats.creds'));
    const jwk = JSON.parse(await readFile(join(job.agencyDir, 'signing-key.jwk'), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'EdDSA');
    const nc = await connect({ servers: job.url, tls: { ca: await readFile(join(job.agencyDir, 'ca.pem'), 'utf8') }, authenticator: credsAuthenticator(new Uint8Array(creds)), inboxPrefix: inboxPrefix(job.agencyId) });
    const js = jetstream(nc);
    const enc = new TextEncoder();
    for (let i = 0; i < WARMUP; i++) await new CompactSign(enc.encode(JSON.stringify({ i }))).setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid }).sign(key);
    const raw = new Uint8Array(job.payloadBytes ?? 512).fill(7);
    send = async (i) => {
      if (job.mode === 'raw-js') return js.publish(job.naiveSubject!, raw);
      const payload = enc.encode(JSON.stringify({ type: job.type, sender: job.agencyId, sentAt: Date.now(), body: { ...job.body, remarks: `bench ${i}` } }));
      const jws = await new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid }).sign(key);
      const h = headers();
      h.set('bench-sent', String(performance.timeOrigin + performance.now()));
      return js.publish(job.naiveSubject!, jws, { headers: h });
    };
    close = () => nc.drain();
  }
  const inflight = new Set<Promise<unknown>>();
  const start = performance.now();
  for (let i = 0; i < job.count; i++) {
    if (job.rate) {
      const due = start + (i * 1000) / job.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const p = send(i).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - start) / 1000;
  await close();
  parentPort?.postMessage({ sent: job.count, seconds });
}

run().catch((err: unknown) => {
  parentPort?.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
});
