/**
 * `npm run bench`: the exchange core measured against baselines run in the same process, on the
 * same machine, in the same run (ratios, not absolute numbers, are the targets):
 *   (a) raw nats.js publish→subscribe of the same payload size (core NATS, one process);
 *   (b) raw node:crypto Ed25519 verify rate;
 *   (c) a naive pipeline: JSON body + jose compact JWS per message, JetStream publish → pull → jose verify;
 *   (d) Liaison publish → verified receive (protobuf, projection, JWS, policy, JetStream, pull consumer);
 *   (e) Liaison p50/p99 latency at a steady 1 000 msg/s.
 * (d0)/(d30) are (d)/(d3) without the receiver's durable handled record (at most once at the handler).
 * Targets: (d) ≥ 75 % of (b); (d) ≥ 1.5 × (c); (e) p99 < 5 ms; the handled record costs ≤ 10 % of (d) and of (d3).
 * Publishers run in a worker thread (the sender's core), receivers in the main thread.
 * Bounded: every phase has a fixed count and a timeout; loopback only; the server is stopped at the end.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { compactVerify, importJWK, type JWK } from 'jose';
import { openMessage } from '../../services/sdk/envelope/open.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import { liaisonRate, startPublisher, withTimeout, type LiaisonRate, type LiaisonRateOptions } from './liaison-rate.ts';
import { BENCH_BODY, BENCH_RECEIVER, BENCH_SENDER, BENCH_TYPE } from './bench-report.ts';

const N_RAW = Number(process.env.BENCH_RAW ?? 200_000);
const N_VERIFY = Number(process.env.BENCH_VERIFY ?? 30_000);
const N_PIPE = Number(process.env.BENCH_PIPE ?? 20_000);
const LAT_RATE = 1_000;
const LAT_SECONDS = Number(process.env.BENCH_LAT_SECONDS ?? 10);
const PAYLOAD = 512;
const SENDER = BENCH_SENDER;
const RECEIVER = BENCH_RECEIVER;
/** (d): a directed IntelligenceReport, one signed copy (personal tier) per message. */
const TYPE = BENCH_TYPE;
const BODY = BENCH_BODY;
/** (d2): a broadcast DocumentReport, two signed copies (operational, personal) per message. */
const BROADCAST_TYPE = 'DocumentReport';
const BROADCAST_BODY = { documentNumber: 'XA1234567', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN', holderName: 'Amir Haddad' };

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
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

async function jsPipeline(fed: TestFederation, mode: 'naive' | 'raw-js'): Promise<number> {
  const subject = `liaison.v1.operational.documents.DocumentReport.${SENDER}.bench-${mode}`;
  const jsm = await jetstreamManager(fed.exchange.admin);
  await jsm.consumers.add('LIAISON_DOCUMENTS', {
    durable_name: `bench-${mode}`,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
  });
  const jwk = JSON.parse(await readFile(join(fed.agencyDirs[SENDER]!, 'signing-key.jwk'), 'utf8')) as JWK;
  const { d: _d, ...pub } = jwk;
  const key = await importJWK(pub, 'EdDSA');
  const consumer = await jetstream(fed.exchange.admin).consumers.get('LIAISON_DOCUMENTS', `bench-${mode}`);
  const messages = await consumer.consume({ max_messages: 1024 });
  let got = 0;
  let t0 = 0;
  const received = (async () => {
    for await (const m of messages) {
      if (got === 0) t0 = performance.now();
      if (mode === 'naive') {
        const { payload } = await compactVerify(m.string(), key);
        const doc = JSON.parse(new TextDecoder().decode(payload)) as { type: string };
        if (doc.type !== TYPE) throw new Error('naive: bad payload');
      }
      m.ack();
      if (++got === N_PIPE) break;
    }
    return N_PIPE / ((performance.now() - t0) / 1000);
  })();
  await startPublisher({ mode, payloadBytes: PAYLOAD, agencyDir: fed.agencyDirs[SENDER], agencyId: SENDER, url: fed.server.url, count: N_PIPE, type: TYPE, body: BODY, naiveSubject: subject });
  const rate = await withTimeout(received, 120_000, `${mode} pipeline`);
  await messages.close();
  return rate;
}

/** (d) and its variants: the core's rate (liaison-rate.ts) for this bench's sender, receiver and messages. */
function liaison(fed: TestFederation, o: Partial<Omit<LiaisonRateOptions, 'sender' | 'receiver'>> = {}): Promise<LiaisonRate> {
  const type = o.type ?? TYPE;
  return liaisonRate(fed, {
    sender: SENDER,
    receiver: RECEIVER,
    count: N_PIPE,
    body: BODY,
    ...o,
    type,
    to: o.to ?? (type === TYPE ? RECEIVER : undefined),
    stampField: type === TYPE ? 'recommendedAction' : 'remarks',
  });
}

/** The receive pipeline alone, in process: decode → checks → node:crypto verify → policy → body. */
async function openRate(fed: TestFederation): Promise<number> {
  const sender = await fed.connect(SENDER);
  const receiver = await fed.connect(RECEIVER);
  const copy = sender.seal(TYPE, BODY, { to: RECEIVER }).copies[0]!;
  const ctx = receiver.openContext();
  const t0 = performance.now();
  for (let i = 0; i < N_VERIFY; i++) openMessage(ctx, { subject: copy.subject, data: copy.data, header: (n) => copy.headers[n] });
  const rate = N_VERIFY / ((performance.now() - t0) / 1000);
  await sender.close();
  await receiver.close();
  return rate;
}

const fmt = (n: number) => n.toFixed(0).padStart(8);

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'bench' });
  try {
    if (process.env.BENCH_ONLY === 'amo') {
      // The handled record's cost alone, alternating off/on so both see the same machine load; medians.
      const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
      const runs: Record<string, Awaited<ReturnType<typeof liaison>>[]> = { d0: [], d: [], d30: [], d3: [] };
      for (let i = 0; i < rounds; i++) {
        runs.d0!.push(await liaison(fed, { atMostOnce: false }));
        runs.d!.push(await liaison(fed));
        runs.d30!.push(await liaison(fed, { backlog: true, atMostOnce: false }));
        runs.d3!.push(await liaison(fed, { backlog: true }));
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      for (const [k, rs] of Object.entries(runs)) {
        console.log(`(${k}) rates ${rs.map((r) => r.rate.toFixed(0)).join(' ')} msg/s, median ${median(rs.map((r) => r.rate)).toFixed(0)}; CPU/msg receiver ${median(rs.map((r) => r.cpu.receiver)).toFixed(0)} µs, nats-server ${median(rs.map((r) => r.cpu.server)).toFixed(0)} µs`);
      }
      const m = (k: string) => median(runs[k]!.map((r) => r.rate));
      console.log(`ratio (d)/(d0) ${(m('d') / m('d0')).toFixed(3)}; (d3)/(d30) ${(m('d3') / m('d30')).toFixed(3)}`);
      return;
    }
    if (process.env.BENCH_ONLY === 'd') {
      // Profiling aid: `BENCH_ONLY=d node --cpu-prof test/bench/exchange.bench.ts`; then the handled record's cost, as in the full run.
      const [d, d3] = [await liaison(fed), await liaison(fed, { backlog: true })];
      console.log(`(d) ${fmt(d.rate)} msg/s; (d3) ${fmt(d3.rate)} msg/s`);
      const [d0, d30] = [await liaison(fed, { atMostOnce: false }), await liaison(fed, { backlog: true, atMostOnce: false })];
      const cpu = (r: LiaisonRate) => r.cpu.receiver + r.cpu.server;
      console.log(`without the handled record: (d0) ${fmt(d0.rate)} msg/s; (d30) ${fmt(d30.rate)} msg/s`);
      console.log(`handled record: (d)/(d0) ${(d.rate / d0.rate).toFixed(2)}, (d3)/(d30) ${(d3.rate / d30.rate).toFixed(2)} (target ≥ 0.90); CPU/msg (d30)/(d3) ${(cpu(d30) / cpu(d3)).toFixed(2)}`);
      return;
    }
    console.log(`nats-server ${fed.server.runtime} at ${fed.server.url}; ${os.cpus().length} cores; node ${process.version}; raw payload ${PAYLOAD} B`);
    const a = await rawNats(fed);
    console.log(`(a)  raw nats.js core pub→sub            ${fmt(a)} msg/s  (${N_RAW} msgs, one process)`);
    const a2 = await jsPipeline(fed, 'raw-js');
    console.log(`(a2) raw JetStream publish→pull→ack      ${fmt(a2)} msg/s  (${N_PIPE} msgs, no crypto)`);
    const b = rawVerify();
    console.log(`(b)  raw node:crypto Ed25519 verify      ${fmt(b)} /s     (${N_VERIFY} verifies, one core)`);
    const b2 = await openRate(fed);
    console.log(`(b2) Liaison receive pipeline in process ${fmt(b2)} msg/s  (decode, checks, verify, policy, body)`);
    const c = await jsPipeline(fed, 'naive');
    console.log(`(c)  naive JSON + jose JWS over JetStream ${fmt(c)} msg/s  (${N_PIPE} msgs)`);
    const d = await liaison(fed);
    console.log(`(d)  Liaison publish→verified receive    ${fmt(d.rate)} msg/s  (${N_PIPE} directed ${TYPE}, 1 copy each; publisher ${fmt(d.publisherRate).trim()} msg/s)`);
    const d3 = await liaison(fed, { backlog: true });
    console.log(`(d3) Liaison receive from stored backlog ${fmt(d3.rate)} msg/s  (${N_PIPE} directed ${TYPE}; sender finished first, so sender and receiver do not share the 2 cores)`);
    const d0 = await liaison(fed, { atMostOnce: false });
    console.log(`(d0) (d) without the handled record      ${fmt(d0.rate)} msg/s  (at most once at the handler off: measurement only)`);
    const d30 = await liaison(fed, { backlog: true, atMostOnce: false });
    console.log(`(d30) (d3) without the handled record    ${fmt(d30.rate)} msg/s`);
    const d2 = await liaison(fed, { type: BROADCAST_TYPE, body: BROADCAST_BODY });
    console.log(`(d2) Liaison broadcast, 2 tier copies    ${fmt(d2.rate)} msg/s  (${N_PIPE} ${BROADCAST_TYPE}, received at operational)`);
    const e = await liaison(fed, { rate: LAT_RATE, count: LAT_RATE * LAT_SECONDS });
    const p50 = pct(e.latencies, 50);
    const p99 = pct(e.latencies, 99);
    console.log(`(e)  latency at ${LAT_RATE} msg/s for ${LAT_SECONDS} s: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${e.latencies.at(-1)?.toFixed(2)} ms`);
    console.log('');
    const line = (label: string, v: number, target: number | undefined, digits = 2) =>
      console.log(`${label.padEnd(40)} ${v.toFixed(digits).padStart(6)}${target === undefined ? '' : `   target ≥ ${target.toFixed(2)}  ${v >= target ? 'MET' : 'NOT MET'}`}`);
    line('ratio (d)/(b)  end to end vs raw verify', d.rate / b, 0.75);
    line('ratio (d)/(c)  vs naive JSON + jose', d.rate / c, 1.5);
    line('ratio (d3)/(b) backlog receive vs verify', d3.rate / b, 0.75);
    line('ratio (d)/(d0) with vs without handled record', d.rate / d0.rate, 0.9);
    line('ratio (d3)/(d30) same, from a backlog', d3.rate / d30.rate, 0.9);
    const cpuOf = (r: { cpu: { receiver: number; server: number } }) => r.cpu.receiver + r.cpu.server;
    console.log(`CPU per received message from a backlog (receiver + nats-server): ${d30.cpu.receiver.toFixed(0)} + ${d30.cpu.server.toFixed(0)} µs without the handled record, ${d3.cpu.receiver.toFixed(0)} + ${d3.cpu.server.toFixed(0)} µs with it`);
    line('ratio CPU/msg (d30)/(d3): record cost by CPU', cpuOf(d30) / cpuOf(d3), 0.9);
    line('ratio (b2)/(b) receive pipeline vs verify', b2 / b, undefined);
    line('ratio (d)/(a2) vs raw JetStream, no crypto', d.rate / a2, undefined);
    line('ratio (d)/(a)  vs raw core NATS', d.rate / a, undefined, 3);
    console.log(`${'p99 latency at 1 000 msg/s (ms)'.padEnd(40)} ${p99.toFixed(2).padStart(6)}   target < 5.00  ${p99 < 5 ? 'MET' : 'NOT MET'}`);
    const mem = process.memoryUsage();
    console.log(`memory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await fed.stop();
  }
}

await main();
process.exit(0);
