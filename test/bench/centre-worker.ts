/**
 * The centre benchmark's receiver, in a worker thread of its own (its own event loop and core, as
 * `liaison centre up` is its own process in the soak; the exchange's services stay in the main
 * thread): either the multiagency centre, or a no-op handler on every consumer of the centre's agency
 * (what the core delivers to it). Posts `{ handled, cpuUs }` every 50 ms; on "stop" stops, closes and
 * posts its final counters.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startCentre } from '../../services/centre/index.ts';
import { LiaisonClient } from '../../services/sdk/client/client.ts';

/** What the worker runs. */
export interface CentreWorkerJob {
  mode: 'centre' | 'noop';
  agencyDir: string;
  url: string;
}

/** What it reports. */
export interface CentreWorkerReport {
  handled: number;
  /** CPU time of this thread so far (µs). */
  cpuUs: number;
  final?: boolean;
  stats?: Record<string, unknown>;
  error?: string;
}

const threadCpu = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};

async function run(job: CentreWorkerJob): Promise<void> {
  const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.url] });
  let noop = 0;
  // Switches to compare settings: BENCH_CENTRE_ALERT_WINDOW (ms; 0: no coalescing wait), BENCH_CENTRE_CONCURRENCY.
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const centre =
    job.mode === 'centre' ? await startCentre({ client, reportEveryMs: 0, alertWindowMs: env('BENCH_CENTRE_ALERT_WINDOW'), concurrency: env('BENCH_CENTRE_CONCURRENCY') }) : undefined;
  if (!centre) await client.consume(() => void noop++);
  const handled = () => (centre ? centre.stats.processed + centre.stats.replayed : noop);
  // Work counts: the correlation records written (each its value's whole record) and their bytes.
  const records = { writes: 0, bytes: 0 };
  const publish = client.nc.publish.bind(client.nc);
  client.nc.publish = (subject, data, opts) => {
    if (subject.includes('_correlations.ent.')) {
      records.writes++;
      records.bytes += typeof data === 'string' ? data.length : (data?.byteLength ?? 0);
    }
    publish(subject, data, opts);
  };
  const post = (r: CentreWorkerReport) => parentPort!.postMessage(r);
  const timer = setInterval(() => post({ handled: handled(), cpuUs: threadCpu() }), 50);
  post({ handled: 0, cpuUs: threadCpu() });
  parentPort!.once('message', () => {
    clearInterval(timer);
    void (async () => {
      await centre?.stop();
      await client.close();
      post({ handled: handled(), cpuUs: threadCpu(), final: true, stats: { ...(centre?.stats ?? {}), received: client.stats.received, recordWrites: records.writes, recordKiB: Math.round(records.bytes / 1024) } });
    })();
  });
}

if (parentPort && workerData) {
  run(workerData as CentreWorkerJob).catch((err: unknown) => {
    parentPort?.postMessage({ handled: 0, cpuUs: 0, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) } satisfies CentreWorkerReport);
  });
}
