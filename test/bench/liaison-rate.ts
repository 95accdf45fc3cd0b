/**
 * The exchange core's signed end-to-end rate, shared by the benchmarks that report their figures as
 * ratios to it (exchange, centre): a publisher in a worker thread sends signed messages through the
 * SDK, one receiver in this thread verifies them with a no-op handler.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import type { TestFederation } from '../support/federation.ts';

/** `p` rejected with "`what`: timed out" after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms).unref())]);
}

/** Run publisher-worker.ts with `job`; resolves with what it sent and how long it took. */
export function startPublisher(job: Record<string, unknown>): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./publisher-worker.ts', import.meta.url), { workerData: job });
    w.once('message', (m: { error?: string; sent: number; seconds: number }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

/** CPU time nats-server has used so far, in µs (/proc; NaN where there is none). */
export function serverCpuUs(fed: TestFederation): number {
  try {
    const fields = readFileSync(`/proc/${fed.server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}

/** One measurement of {@link liaisonRate}. */
export interface LiaisonRate {
  /** Messages verified and handled per second at the receiver. */
  rate: number;
  /** End-to-end latencies (ms, sorted) when paced at a rate. */
  latencies: number[];
  publisherRate: number;
  /** CPU µs per message while receiving (receiver process, nats-server); meaningful with `backlog`. */
  cpu: { receiver: number; server: number };
}

/** What {@link liaisonRate} sends, from whom, to whom. */
export interface LiaisonRateOptions {
  sender: string;
  receiver: string;
  count: number;
  type: string;
  body: Record<string, unknown>;
  /** Direct recipient (absent: broadcast). */
  to?: string;
  /** Body field that carries the send stamp. */
  stampField: string;
  /** Paced at this many msg/s (latency runs); absent: as fast as the publisher's window allows. */
  rate?: number;
  /** The sender publishes everything first, then the receiver drains it (its host's CPU is its own). */
  backlog?: boolean;
  /** Default true: the receiver keeps its durable handled record. */
  atMostOnce?: boolean;
  /** Crypto worker threads of the receiver and the publisher (LiaisonClient `cryptoWorkers`; absent: the default). */
  cryptoWorkers?: number;
  /** Called with the receiving client once it is connected, before it consumes (a bench may instrument its connection). */
  onReceiver?: (client: LiaisonClient) => void;
}

/** Liaison publish → verified receive, the receiver's handler a no-op (the core's rate). */
export async function liaisonRate(fed: TestFederation, o: LiaisonRateOptions): Promise<LiaisonRate> {
  const { rate, count, type, body, to, stampField } = o;
  const workers = o.cryptoWorkers === undefined ? {} : { cryptoWorkers: o.cryptoWorkers };
  const receiver = await fed.connect(o.receiver, { atMostOnce: o.atMostOnce ?? true, ...workers });
  // Closed however the run ends: a receiver left running would keep pulling from the consumer the next run uses.
  try {
    o.onReceiver?.(receiver);
    let got = 0;
    let t0 = 0;
    const latencies: number[] = [];
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const pubJob = { mode: 'liaison', agencyDir: fed.agencyDirs[o.sender], agencyId: o.sender, url: fed.server.url, count, rate, type, body, to, stampField, ...workers };
    const published = o.backlog ? await withTimeout(startPublisher(pubJob), 180_000, 'liaison publisher') : undefined;
    let cpu0 = process.cpuUsage();
    let srv0 = serverCpuUs(fed);
    await receiver.consume(
      (msg) => {
        if (got === 0) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
          srv0 = serverCpuUs(fed);
        }
        const sentAt = Number(String(msg.body[stampField] ?? '').split(' ')[2]);
        if (rate) latencies.push(performance.timeOrigin + performance.now() - sentAt);
        if (++got === count) finish();
      },
      { types: [type] },
    );
    const [pubResult] = await withTimeout(Promise.all([published ?? startPublisher(pubJob), done]), 180_000, 'liaison pipeline');
    const seconds = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu0);
    const cpu = { receiver: (used.user + used.system) / count, server: (serverCpuUs(fed) - srv0) / count };
    const rejected = Object.values(receiver.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
    if (rejected) throw new Error(`liaison: ${rejected} copies rejected: ${JSON.stringify(receiver.stats.rejected)}`);
    return { rate: count / seconds, latencies: latencies.sort((a, b) => a - b), publisherRate: pubResult.sent / pubResult.seconds, cpu };
  } finally {
    await receiver.close();
  }
}
