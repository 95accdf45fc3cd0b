/**
 * `npm run bench`: the exchange core measured against baselines run in the same process, on the
 * same machine, in the same run (ratios, not absolute numbers, are the targets):
 *   (a) raw nats.js publish→subscribe of the same payload size (core NATS, one process);
 *   (b) raw node:crypto Ed25519 verify rate;
 *   (c) a naive pipeline: JSON body + jose compact JWS per message, JetStream publish → pull → jose verify;
 *   (d) Liaison publish → verified receive (protobuf, projection, JWS, policy, JetStream, pull consumer);
 *   (e) Liaison p50/p99 latency at a steady 1 000 msg/s.
 * Targets: (d) ≥ 75 % of (b); (d) ≥ 1.5 × (c); (e) p99 < 5 ms.
 * Publishers run in a worker thread (the sender's core), receivers in the main thread.
 * Bounded: every phase has a fixed count and a timeout; loopback only; the server is stopped at the end.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { compactVerify, importJWK, type JWK } from 'jose';
import { createTestFederation, type TestFederation } from '../support/federation.ts';

const N_RAW = Number(process.env.BENCH_RAW ?? 200_000);
const N_VERIFY = Number(process.env.BENCH_VERIFY ?? 30_000);
const N_PIPE = Number(process.env.BENCH_PIPE ?? 20_000);
const LAT_RATE = 1_000;
const LAT_SECONDS = Number(process.env.BENCH_LAT_SECONDS ?? 10);
const PAYLOAD = 512;
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'DocumentReport';
const BODY = {
  documentNumber: 'XA1234567',
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_STOLEN',
};

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms).unref())]);
}

function startPublisher(job: Record<string, unknown>): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./publisher-worker.ts', import.meta.url), { workerData: job });
    w.once('message', (m: { error?: string; sent: number; seconds: number }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

async function rawNats(fed: TestFederation): Promise<number> {
  const nc = fed.exchange.admin;
  const payload = new Uint8Array(PAYLOAD).fill(7);
  let got = 0;
  const done = new Promise<void>((resolve) => {
    nc.subscribe('bench.raw', {
      max: N_RAW,
      callback: () => {
        if (++got === N_RAW) resolve();
      },
    });
  });
  await nc.flush();
  const t0 = performance.now();
  for (let i = 0; i < N_RAW; i++) {
    nc.publish('bench.raw', payload);
    if (i % 1000 === 0) await nc.flush();
  }
  await withTimeout(done, 60_000, 'raw nats');
  return N_RAW / ((performance.now() - t0) / 1000);
}

function rawVerify(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const input = Buffer.alloc(PAYLOAD, 3);
  const sig = sign(null, input, privateKey);
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < N_VERIFY; i++) if (verify(null, input, publicKey, sig)) ok++;
  if (ok !== N_VERIFY) throw new Error('verify baseline failed');
  return N_VERIFY / ((performance.now() - t0) / 1000);
}

async function naive(fed: TestFederation): Promise<number> {
  const subject = `liaison.v1.operational.documents.${TYPE}.${SENDER}.bench`;
  const jsm = await jetstreamManager(fed.exchange.admin);
  await jsm.consumers.add('LIAISON_DOCUMENTS', {
    durable_name: 'bench-naive',
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
  });
  const jwk = JSON.parse(await readFile(join(fed.agencyDirs[SENDER]!, 'signing-key.jwk'), 'utf8')) as JWK;
  const { d: _d, ...pub } = jwk;
  const key = await importJWK(pub, 'EdDSA');
  const consumer = await jetstream(fed.exchange.admin).consumers.get('LIAISON_DOCUMENTS', 'bench-naive');
  const messages = await consumer.consume({ max_messages: 1024 });
  let got = 0;
  let t0 = 0;
  const received = (async () => {
    for await (const m of messages) {
      if (got === 0) t0 = performance.now();
      const { payload } = await compactVerify(m.string(), key);
      const doc = JSON.parse(new TextDecoder().decode(payload)) as { type: string };
      if (doc.type !== TYPE) throw new Error('naive: bad payload');
      m.ack();
      if (++got === N_PIPE) break;
    }
    return N_PIPE / ((performance.now() - t0) / 1000);
  })();
  await startPublisher({ mode: 'naive', agencyDir: fed.agencyDirs[SENDER], agencyId: SENDER, url: fed.server.url, count: N_PIPE, type: TYPE, body: BODY, naiveSubject: subject });
  const rate = await withTimeout(received, 120_000, 'naive pipeline');
  await messages.close();
  return rate;
}

async function liaison(fed: TestFederation, rate?: number, count = N_PIPE): Promise<{ rate: number; latencies: number[] }> {
  const receiver = await fed.connect(RECEIVER);
  let got = 0;
  let t0 = 0;
  const latencies: number[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  await receiver.consume(
    (msg) => {
      if (got === 0) t0 = performance.now();
      const sentAt = Number(String(msg.body.remarks ?? '').split(' ')[2]);
      if (rate) latencies.push(performance.timeOrigin + performance.now() - sentAt);
      if (++got === count) finish();
    },
    { types: [TYPE] },
  );
  const pub = startPublisher({ mode: 'liaison', agencyDir: fed.agencyDirs[SENDER], agencyId: SENDER, url: fed.server.url, count, rate, type: TYPE, body: BODY });
  await withTimeout(Promise.all([pub, done]), 180_000, 'liaison pipeline');
  const seconds = (performance.now() - t0) / 1000;
  const rejected = Object.values(receiver.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
  if (rejected) throw new Error(`liaison: ${rejected} copies rejected: ${JSON.stringify(receiver.stats.rejected)}`);
  await receiver.close();
  return { rate: count / seconds, latencies: latencies.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'bench' });
  try {
    console.log(`nats-server ${fed.server.runtime} at ${fed.server.url}; payload ${PAYLOAD} B; node ${process.version}`);
    const a = await rawNats(fed);
    console.log(`(a) raw nats.js pub→sub          ${a.toFixed(0).padStart(9)} msg/s  (${N_RAW} msgs)`);
    const b = rawVerify();
    console.log(`(b) raw node:crypto Ed25519 verify ${b.toFixed(0).padStart(8)} /s     (${N_VERIFY} verifies)`);
    const c = await naive(fed);
    console.log(`(c) naive JSON + jose JWS          ${c.toFixed(0).padStart(8)} msg/s  (${N_PIPE} msgs, JetStream)`);
    const d = await liaison(fed);
    console.log(`(d) Liaison publish→verified       ${d.rate.toFixed(0).padStart(8)} msg/s  (${N_PIPE} msgs, JetStream)`);
    const e = await liaison(fed, LAT_RATE, LAT_RATE * LAT_SECONDS);
    const p50 = pct(e.latencies, 50);
    const p99 = pct(e.latencies, 99);
    console.log(`(e) latency at ${LAT_RATE} msg/s for ${LAT_SECONDS} s: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${e.latencies.at(-1)?.toFixed(2)} ms`);
    console.log('');
    const r1 = d.rate / b;
    const r2 = d.rate / c;
    const r3 = d.rate / a;
    console.log(`ratio (d)/(b) = ${r1.toFixed(2)}   target ≥ 0.75  ${r1 >= 0.75 ? 'MET' : 'NOT MET'}`);
    console.log(`ratio (d)/(c) = ${r2.toFixed(2)}   target ≥ 1.50  ${r2 >= 1.5 ? 'MET' : 'NOT MET'}`);
    console.log(`ratio (d)/(a) = ${r3.toFixed(3)}  (signed, durable vs raw core NATS: informational)`);
    console.log(`p99 at ${LAT_RATE} msg/s = ${p99.toFixed(2)} ms   target < 5 ms  ${p99 < 5 ? 'MET' : 'NOT MET'}`);
    const mem = process.memoryUsage();
    console.log(`memory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await fed.stop();
  }
}

await main();
process.exit(0);
