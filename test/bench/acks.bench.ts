/**
 * `npm run bench`, issue 16 "acknowledgements coalesced where JetStream allows": what one acknowledgement costs, and
 * what coalescing them would earn Liaison, measured on a real nats-server in the same run (ratios, medians of rounds
 * that alternate the variants so each sees the same machine load):
 *   (j1)/(j16)/(j64) raw JetStream, no crypto: a stored backlog of copies pulled (batches of 64, as a Liaison loop
 *        pulls) and acknowledged one by one under AckExplicit, vs one AckAll every 16 / 64 copies (consumer AckPolicy.All);
 *        rate and CPU per copy of the puller and of nats-server;
 *   (t) Liaison's server traffic per handled copy in its receive path (single lane, durable handled record): every
 *        publish of the receiver's connection counted by kind — pulls, +ACK, +WPI, -NAK/+TERM, handled-record writes
 *        (claims, done floors), reads — over a backlog receive;
 *   (r)/(r64) Liaison receive from a stored backlog with its acks as now vs coalesced to one AckAll per 64 (the
 *        receiver's consumer re-created AckPolicy.All and its +ACKs thinned at the socket to every 64th, or the latest
 *        after a 20 ms pause: the most coalescing could earn, with the at-most-once record, the pull and the
 *        verification unchanged); (r0) the same without the handled record;
 *   (e)/(e64) the same, streaming (publisher running, in a worker thread of this process).
 * Bounded: fixed counts, every phase with a timeout, an overall limit; loopback only; the server is stopped at the end.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import os from 'node:os';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { agencyJetStream } from '../../services/sdk/client/agency-js.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import type { ConsumerSpec } from '../../services/sdk/policy/index.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import { liaisonRate, serverCpuUs, withTimeout, type LiaisonRate } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';
import { BENCH_BODY, BENCH_RECEIVER, BENCH_SENDER, BENCH_TYPE } from './bench-report.ts';

const N_RAW = Number(process.env.BENCH_ACKS_RAW ?? 30_000);
const COUNT = Number(process.env.BENCH_ACKS_COUNT ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ACKS_ROUNDS ?? 3);
const PULL_BATCH = 64;
const PAYLOAD = 600;
const SENDER = BENCH_SENDER;
const RECEIVER = BENCH_RECEIVER;
const TYPE = BENCH_TYPE;
const BODY = BENCH_BODY;
const RAW_STREAM = 'LIAISON_DOCUMENTS';
const RAW_SUBJECT = `liaison.v1.operational.documents.DocumentReport.${SENDER}.bench-acks`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, w = 7): string => n.toFixed(0).padStart(w);

interface RawRate {
  rate: number;
  /** CPU µs per copy: this process (the puller), nats-server. */
  cpu: { client: number; server: number };
}

/** Store `n` raw copies (PubAcked in windows). */
async function storeBacklog(nc: NatsConnection, subject: string, n: number): Promise<void> {
  const js = jetstream(nc);
  const payload = new Uint8Array(PAYLOAD).fill(7);
  for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => js.publish(subject, payload)));
}

/** A fresh durable consumer of the raw subject from `startSeq`, under `ackPolicy`. */
async function rawConsumer(jsm: JetStreamManager, name: string, ackPolicy: AckPolicy, startSeq: number): Promise<void> {
  await jsm.consumers.delete(RAW_STREAM, name).catch(() => undefined);
  await jsm.consumers.add(RAW_STREAM, { durable_name: name, filter_subject: RAW_SUBJECT, ack_policy: ackPolicy, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq, max_ack_pending: 10_000, ack_wait: 30_000_000_000 });
}

/**
 * (j1)/(jk): drain a stored backlog of `N_RAW` raw copies through a pull consumer, batches of {@link PULL_BATCH}; k = 1: every
 * copy acked (AckExplicit); k > 1: AckPolicy.All, every k-th copy and the last acked. Ends when nats-server holds no ack
 * pending. `via` 'admin': the exchange's own connection and a consumer of its own; 'agency': the receiving agency's
 * connection through its account's imports (as Liaison pulls and acks), on its provisioned consumer re-created.
 */
async function rawDrain(fed: TestFederation, k: number, via: 'admin' | 'agency'): Promise<RawRate> {
  const admin = fed.exchange.admin;
  const jsm = await jetstreamManager(admin);
  let stream = RAW_STREAM;
  let name = `bench-acks-${k}`;
  let subject = RAW_SUBJECT;
  let agency: LiaisonClient | undefined;
  if (via === 'admin') {
    const first = (await jsm.streams.info(RAW_STREAM)).state.last_seq + 1;
    await rawConsumer(jsm, name, k === 1 ? AckPolicy.Explicit : AckPolicy.All, first);
  } else {
    const spec = await freshReceiverConsumer(fed, k === 1 ? AckPolicy.Explicit : AckPolicy.All);
    ({ stream, name } = spec);
    subject = spec.filterSubject.replaceAll('*', 'bench');
    agency = await fed.connect(RECEIVER, { atMostOnce: false });
  }
  try {
    await storeBacklog(admin, subject, N_RAW);
    const nc = agency ? agency.nc : admin;
    const consumer = await (agency ? agencyJetStream(nc) : jetstream(nc)).consumers.get(stream, name);
    const cpu0 = process.cpuUsage();
    const srv0 = serverCpuUs(fed);
    const t0 = performance.now();
    let got = 0;
    while (got < N_RAW) {
      const batch = await consumer.fetch({ max_messages: Math.min(PULL_BATCH, N_RAW - got), expires: 5_000 });
      for await (const m of batch) {
        got++;
        if (k === 1 || got % k === 0 || got === N_RAW) m.ack();
      }
    }
    await nc.flush();
    for (let i = 0; (await jsm.consumers.info(stream, name)).num_ack_pending > 0; i++) {
      if (i > 500) throw new Error(`raw drain k=${k}: acks still pending`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu0);
    return { rate: N_RAW / seconds, cpu: { client: (used.user + used.system) / N_RAW, server: (serverCpuUs(fed) - srv0) / N_RAW } };
  } finally {
    await agency?.close();
    if (via === 'admin') await jsm.consumers.delete(RAW_STREAM, name);
  }
}

/** What the receiver's connection published, by kind. */
export type Traffic = Record<'pull' | 'ack' | 'working' | 'nakTerm' | 'recordWrite' | 'read' | 'other', number>;

/** The receiver connection's protocol handler (the path of nc.publish, requests and every JsMsg ack). */
interface Publishing {
  publish(subject: string, data?: Uint8Array, opts?: unknown): void;
}
const protocolOf = (nc: NatsConnection): Publishing => (nc as unknown as { protocol: Publishing }).protocol;

const decoder = new TextDecoder();

function kindOf(subject: string, data: Uint8Array | undefined): keyof Traffic {
  if (subject.startsWith('$JS.ACK.')) {
    const verb = decoder.decode(data ?? new Uint8Array()).split(' ')[0];
    if (verb === '+ACK' || verb === '') return 'ack';
    if (verb === '+WPI') return 'working';
    return 'nakTerm';
  }
  if (subject.includes('CONSUMER.MSG.NEXT')) return 'pull';
  if (subject.includes('$KV.')) return 'recordWrite';
  if (subject.includes('DIRECT.GET') || subject.includes('STREAM.MSG.GET')) return 'read';
  return 'other';
}

/**
 * Count every publish of `nc` by kind; with `coalesce` k, forward only every k-th +ACK (the consumer is AckPolicy.All,
 * so an ack covers the earlier copies) and the latest one 20 ms after the acks stop. Returns the counts and an undo.
 */
export function instrument(nc: NatsConnection, coalesce: number): { traffic: Traffic; restore: () => void } {
  const traffic: Traffic = { pull: 0, ack: 0, working: 0, nakTerm: 0, recordWrite: 0, read: 0, other: 0 };
  const p = protocolOf(nc);
  const original = p.publish;
  let acks = 0;
  let held: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  p.publish = function (subject: string, data?: Uint8Array, opts?: unknown): void {
    const kind = kindOf(subject, data);
    if (kind === 'ack' && coalesce > 1) {
      const send = () => original.call(p, subject, data, opts);
      if (++acks % coalesce !== 0) {
        held = send;
        clearTimeout(timer);
        timer = setTimeout(() => {
          held?.();
          held = undefined;
          traffic.ack++;
        }, 20);
        return;
      }
      held = undefined;
      clearTimeout(timer);
    }
    traffic[kind]++;
    original.call(p, subject, data, opts);
  };
  return {
    traffic,
    restore: () => {
      clearTimeout(timer);
      held?.();
      p.publish = original;
    },
  };
}

/**
 * Re-create the receiver's durable consumer as the policy provisioned it, from the stream's next sequence (earlier runs'
 * copies are not redelivered), under `ackPolicy`.
 */
export async function freshReceiverConsumer(fed: TestFederation, ackPolicy: AckPolicy): Promise<ConsumerSpec> {
  const probe = await fed.connect(RECEIVER, { atMostOnce: false });
  // The consumer the directed copies arrive on (the type has a broadcast one too).
  const spec = probe.consumerSpecs([TYPE]).find((c) => c.scope === 'direct')!;
  await probe.close();
  const jsm = await jetstreamManager(fed.exchange.admin);
  const { config } = await jsm.consumers.info(spec.stream, spec.name);
  const next = (await jsm.streams.info(spec.stream)).state.last_seq + 1;
  await jsm.consumers.delete(spec.stream, spec.name);
  const cfg: Partial<ConsumerConfig> = { ...config, ack_policy: ackPolicy, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next };
  await jsm.consumers.add(spec.stream, cfg);
  return spec;
}

export interface Run {
  rate: LiaisonRate;
  traffic: Traffic;
}

/** One Liaison receive of COUNT copies (backlog or streaming), acks coalesced by `k` (1: as now). */
export async function liaisonRun(fed: TestFederation, o: { k: number; backlog: boolean; atMostOnce?: boolean }): Promise<Run> {
  await freshReceiverConsumer(fed, o.k === 1 ? AckPolicy.Explicit : AckPolicy.All);
  let counted: ReturnType<typeof instrument> | undefined;
  const rate = await liaisonRate(fed, {
    sender: SENDER,
    receiver: RECEIVER,
    count: COUNT,
    type: TYPE,
    body: BODY,
    to: RECEIVER,
    stampField: 'recommendedAction',
    backlog: o.backlog,
    atMostOnce: o.atMostOnce ?? true,
    onReceiver: (client) => {
      counted = instrument(client.nc, o.k);
    },
  });
  counted!.restore();
  const { traffic } = counted!;
  // Each copy claimed once: more claims mean copies came back (unacknowledged), and the figure would be of something else.
  if (o.atMostOnce !== false && traffic.recordWrite > COUNT * 1.5) throw new Error(`${traffic.recordWrite} handled-record writes for ${COUNT} copies: copies were redelivered`);
  return { rate, traffic };
}

/** `xs` rotated left by `i`. */
function rotate<T>(xs: readonly T[], i: number): T[] {
  const n = i % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

/** Run one measurement; a failure (a timeout under load) is reported as a figure, not a crash of the bench. */
async function attempt<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await withTimeout(run(), 240_000, what);
  } catch (err) {
    console.log(`  ${what}: no figure (${(err as Error).message})`);
    return undefined;
  }
}

function verifyRate(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const input = Buffer.alloc(PAYLOAD, 3);
  const sig = sign(null, input, privateKey);
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (!verify(null, input, publicKey, sig)) throw new Error('verify baseline failed');
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  console.log(`acks bench: ${os.availableParallelism()} cores (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}); raw ${N_RAW} copies, Liaison ${COUNT} per run, ${ROUNDS} rounds`);
  const fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'acks-bench' });
  try {
    console.log(`nats-server ${fed.server.runtime}`);
    const rawKeys = ['j1', 'j16', 'j64', 'a1', 'a16', 'a64'] as const;
    const onlyLiaison = process.env.BENCH_ACKS_ONLY === 'liaison';
    const raw = Object.fromEntries(rawKeys.map((k) => [k, [] as RawRate[]])) as Record<(typeof rawKeys)[number], RawRate[]>;
    for (let i = 0; i < (onlyLiaison ? 0 : ROUNDS); i++) {
      // Rotated, so no variant always runs first in a round.
      for (const key of rotate(rawKeys, i)) {
        const k = Number(key.slice(1));
        const r = await attempt(`raw ${key}`, () => rawDrain(fed, k, key.startsWith('j') ? 'admin' : 'agency'));
        if (r) raw[key].push(r);
      }
      console.log(`  raw round ${i + 1}: ${rawKeys.map((k) => `${k} ${fmt(raw[k][i]?.rate ?? NaN)}`).join('  ')} copies/s (load ${os.loadavg()[0]!.toFixed(1)})`);
    }
    const rm = (k: keyof typeof raw) => median(raw[k].map((r) => r.rate));
    const rc = (k: keyof typeof raw, side: 'client' | 'server') => median(raw[k].map((r) => r.cpu[side]));
    const rawLabels: Record<keyof typeof raw, string> = {
      j1: 'exchange account, AckExplicit, every copy',
      j16: 'exchange account, AckAll every 16',
      j64: 'exchange account, AckAll every 64',
      a1: "agency's imports, AckExplicit, every copy",
      a16: "agency's imports, AckAll every 16",
      a64: "agency's imports, AckAll every 64",
    };
    if (!onlyLiaison) for (const k of rawKeys) console.log(`(${k.padEnd(3)}) raw JetStream pull→ack, ${rawLabels[k].padEnd(42)} ${fmt(rm(k))} copies/s   CPU/copy puller ${rc(k, 'client').toFixed(1)} µs, nats-server ${rc(k, 'server').toFixed(1)} µs`);
    for (const [one, k16, k64] of onlyLiaison ? [] : ([['j1', 'j16', 'j64'], ['a1', 'a16', 'a64']] as const)) {
      console.log(
        `ratio (${k16})/(${one}) ${(rm(k16) / rm(one)).toFixed(2)}, (${k64})/(${one}) ${(rm(k64) / rm(one)).toFixed(2)}: one ack ~${(1e6 / rm(one) - 1e6 / rm(k64)).toFixed(1)} µs of wall time per copy (CPU: puller ${(rc(one, 'client') - rc(k64, 'client')).toFixed(1)} µs + nats-server ${(rc(one, 'server') - rc(k64, 'server')).toFixed(1)} µs)`,
      );
    }

    await liaisonRun(fed, { k: 1, backlog: true }); // warm-up (JIT, connections), not counted
    const liaisonKeys = ['r', 'r64', 'r0', 'e', 'e64'] as const;
    const variants: Record<(typeof liaisonKeys)[number], { k: number; backlog: boolean; atMostOnce?: boolean }> = {
      r: { k: 1, backlog: true },
      r64: { k: 64, backlog: true },
      r0: { k: 1, backlog: true, atMostOnce: false },
      e: { k: 1, backlog: false },
      e64: { k: 64, backlog: false },
    };
    const runs = Object.fromEntries(liaisonKeys.map((k) => [k, [] as Run[]])) as Record<(typeof liaisonKeys)[number], Run[]>;
    for (let i = 0; i < ROUNDS; i++) {
      for (const key of rotate(liaisonKeys, i)) {
        const r = await attempt(`Liaison ${key}`, () => liaisonRun(fed, variants[key]));
        if (r) runs[key].push(r);
      }
      console.log(`  Liaison round ${i + 1}: ${liaisonKeys.map((k) => `${k} ${fmt(runs[k][i]?.rate.rate ?? NaN)}`).join('  ')} msg/s (load ${os.loadavg()[0]!.toFixed(1)})`);
    }
    const lm = (k: keyof typeof runs) => median(runs[k].map((r) => r.rate.rate));
    const lc = (k: keyof typeof runs, side: 'receiver' | 'server') => median(runs[k].map((r) => r.rate.cpu[side]));
    const t = runs.r[0]?.traffic ?? { pull: 0, ack: 0, working: 0, nakTerm: 0, recordWrite: 0, read: 0, other: 0 };
    const per = (n: number) => (n / COUNT).toFixed(3);
    console.log(`(t)  receiver publishes per handled copy (backlog, handled record on): ${per(Object.values(t).reduce((a, b) => a + b, 0))} in all — +ACK ${per(t.ack)}, handled-record writes ${per(t.recordWrite)} (claims + done floors), pulls ${per(t.pull)}, +WPI ${per(t.working)}, -NAK/+TERM ${per(t.nakTerm)}, reads ${per(t.read)}, other ${per(t.other)}`);
    const t64 = runs.r64[0]?.traffic ?? t;
    console.log(`     with acks coalesced by 64: +ACK ${per(t64.ack)}, handled-record writes ${per(t64.recordWrite)}, pulls ${per(t64.pull)}`);
    for (const [k, label] of [['r', 'backlog, acks as now'], ['r64', 'backlog, AckAll per 64'], ['r0', 'backlog, no handled record'], ['e', 'streaming, acks as now'], ['e64', 'streaming, AckAll per 64']] as const) {
      console.log(`(${k.padEnd(3)}) Liaison receive, ${label.padEnd(28)} ${fmt(lm(k))} msg/s   CPU/msg receiver ${lc(k, 'receiver').toFixed(0)} µs, nats-server ${lc(k, 'server').toFixed(0)} µs`);
    }
    const v = verifyRate();
    const us = (rate: number) => 1e6 / rate;
    console.log(`(v)   Ed25519 verify, one core            ${fmt(v)} /s (${us(v).toFixed(1)} µs each)`);
    console.log(`ratio (r64)/(r) backlog receive, coalesced acks vs as now   ${(lm('r64') / lm('r')).toFixed(3)}   (≥ 1.10 would justify coalescing)`);
    console.log(`ratio (e64)/(e) streaming, coalesced acks vs as now          ${(lm('e64') / lm('e')).toFixed(3)}`);
    console.log(`ratio (r0)/(r)  backlog receive without vs with the handled record ${(lm('r0') / lm('r')).toFixed(3)}`);
    console.log(
      `where a backlog copy's ${us(lm('r')).toFixed(0)} µs go: acks ~${(us(lm('r')) - us(lm('r64'))).toFixed(0)} µs (r − r64), handled record ~${(us(lm('r')) - us(lm('r0'))).toFixed(0)} µs (r − r0), one verify ${us(v).toFixed(0)} µs of CPU (on ${os.availableParallelism() > 1 ? 'a crypto worker thread' : 'the event loop'})`,
    );
  } finally {
    await fed.stop();
  }
}

if (import.meta.main) runBounded('acks', 20 * 60_000, main);
