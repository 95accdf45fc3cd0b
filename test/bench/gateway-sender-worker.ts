import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { startGateway } from '../../services/gateway/server.ts';
import { createToken } from '../../services/gateway/tokens.ts';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { keepAlivePoster } from './http-post.ts';

/**
 * The sending agency of gateway.bench.ts, in its own thread (its own core, as another agency's process):
 * mode 'sdk' sends with LiaisonClient.send (the SDK embedded in the agency's system); mode 'gateway'
 * runs the agency's gateway and sends through it over HTTP (`POST /v1/messages/{type}`, node:http keep-alive).
 * Either with `window` sends in flight, or paced at `rate` msg/s. Each message carries `caseRef`
 * `<prefix><i>`; the worker answers with each send's start time (ms since the epoch, high resolution).
 */
interface Job {
  mode: 'sdk' | 'gateway';
  agencyDir: string;
  count: number;
  window: number;
  rate?: number;
  type: string;
  to: string;
  body: Record<string, unknown>;
  prefix: string;
}

const job = workerData as Job;
const now = (): number => performance.timeOrigin + performance.now();

async function sender(): Promise<{ send: (i: number) => Promise<void>; close: () => Promise<void> }> {
  const client = await LiaisonClient.connect({ agencyDir: job.agencyDir });
  if (job.mode === 'sdk') {
    return { send: async (i) => void (await client.send(job.type, job.body, { to: job.to, tlp: 'AMBER', caseRef: `${job.prefix}${i}` })), close: () => client.close() };
  }
  const { token } = await createToken(job.agencyDir, ['send']);
  const gw = await startGateway({ client, agencyDir: job.agencyDir, logger: pino({ level: 'silent' }) });
  const body = JSON.stringify(job.body);
  const post = keepAlivePoster(job.rate ? 64 : job.window);
  return {
    async send(i) {
      const r = await post(`${gw.url}/v1/messages/${job.type}?to=${job.to}&tlp=AMBER&caseRef=${job.prefix}${i}`, body, { authorization: `Bearer ${token}`, 'content-type': 'application/json' });
      if (r.status !== 201) throw new Error(`send ${i}: HTTP ${r.status} ${r.text}`);
    },
    close: () => gw.close(),
  };
}

async function run(): Promise<void> {
  const { send, close } = await sender();
  const starts = new Float64Array(job.count);
  let next = 0;
  const t0 = now();
  const lane = async (): Promise<void> => {
    while (next < job.count) {
      const i = next++;
      if (job.rate) {
        const due = t0 + (i * 1000) / job.rate;
        const wait = due - now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      starts[i] = now();
      await send(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.window, job.count) }, lane));
  const seconds = (now() - t0) / 1000;
  await close();
  parentPort!.postMessage({ starts, seconds });
}

run().catch((err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) }));
