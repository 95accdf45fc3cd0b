/**
 * `npm run bench` (gateway part): the HTTP gateway end to end against the SDK, in the same run, same
 * machine, same federation, same messages (a directed CaseReferral, one personal-tier copy). The sending
 * agency runs in a worker thread (gateway-sender-worker.ts), the receiving one in the main thread:
 *   (s) SDK: `client.send` → the receiver's `client.consume` handler;
 *   (g) gateway: `POST /v1/messages/CaseReferral` to the sender's gateway → the receiving gateway's SSE
 *       stream → `POST …/ack` (a message counts once its ack is answered: that is when the SDK settles it).
 * HTTP clients use node:http keep-alive (http-post.ts): fetch's own CPU would be charged to the gateway.
 * Each at saturation (W sends in flight: the end-to-end rate) and paced at R msg/s (p50/p99 of send
 * start → receipt, without queueing).
 * Bounded: fixed counts, a timeout per phase and for the whole run; loopback only; all stopped at the end.
 */
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { startGateway } from '../../services/gateway/server.ts';
import { createToken } from '../../services/gateway/tokens.ts';
import { createTestFederation, type TestFederation } from '../support/federation.ts';
import { keepAlivePoster } from './http-post.ts';
import { withTimeout } from './liaison-rate.ts';
import { runBounded } from './run-bounded.ts';

const N = Number(process.env.BENCH_GATEWAY_N ?? 3_000);
const WINDOW = Number(process.env.BENCH_GATEWAY_WINDOW ?? 32);
const RATE = Number(process.env.BENCH_GATEWAY_RATE ?? 100);
const PACED_N = Number(process.env.BENCH_GATEWAY_PACED_N ?? 1_000);
const PHASE_MS = 150_000;
const SENDER = 'xa-border-police';
const RECEIVER = 'xa-ngo-harbour';
const TYPE = 'CaseReferral';
const BODY = { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Woman travelling with a child, injured during the crossing; requests protection.', consentRecorded: true };

const now = (): number => performance.timeOrigin + performance.now();

/** What one phase measured. */
interface Result {
  rate: number;
  p50: number;
  p99: number;
  /** The sending side's own rate (its last send answered). */
  sendRate: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The receiving side: when each `<prefix><i>` arrived (once), and a promise for all `n`. */
function receipts(prefix: string, n: number) {
  const at = new Float64Array(n);
  let count = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  return {
    all,
    got(caseRef: string | undefined) {
      if (!caseRef?.startsWith(prefix)) return;
      const i = Number(caseRef.slice(prefix.length));
      if (at[i]) return;
      at[i] = now();
      if (++count === n) resolveAll();
    },
    result(starts: Float64Array, sendSeconds: number): Result {
      const latencies = Array.from(at, (t, i) => t - starts[i]!).sort((a, b) => a - b);
      const t0 = Math.min(...starts);
      const t1 = Math.max(...at);
      return { rate: n / ((t1 - t0) / 1000), p50: pct(latencies, 50), p99: pct(latencies, 99), sendRate: n / sendSeconds };
    },
  };
}

function sendFrom(fed: TestFederation, mode: 'sdk' | 'gateway', prefix: string, count: number, rate?: number): Promise<{ starts: Float64Array; seconds: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./gateway-sender-worker.ts', import.meta.url), {
      workerData: { mode, agencyDir: fed.agencyDirs[SENDER], count, window: rate ? 512 : WINDOW, rate, type: TYPE, to: RECEIVER, body: BODY, prefix },
    });
    w.once('message', (m: { error?: string; starts: Float64Array; seconds: number }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

/** (s): the SDK on both sides. */
async function sdkPhase(fed: TestFederation, prefix: string, count: number, rate?: number): Promise<Result> {
  const receiver = await fed.connect(RECEIVER);
  const r = receipts(prefix, count);
  await receiver.consume((m) => r.got(m.header.caseRef));
  try {
    const sent = await withTimeout(sendFrom(fed, 'sdk', prefix, count, rate), PHASE_MS, 'SDK sender');
    await withTimeout(r.all, PHASE_MS, 'SDK receiver');
    return r.result(sent.starts, sent.seconds);
  } finally {
    await receiver.close();
  }
}

/** Read a gateway's SSE stream, acknowledging each message; `got` sees each once its ack is answered. */
async function readStream(url: string, token: string, got: (caseRef: string | undefined) => void, failures: { count: number }, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${url}/v1/messages?max=64`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
  const post = keepAlivePoster(16);
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
        buf = buf.slice(i + 2);
        if (!data) continue;
        const m = JSON.parse(data.slice(6)) as { caseRef?: string; ack: string };
        void post(url + m.ack, undefined, { authorization: `Bearer ${token}` }).then(
          (a) => {
            if (a.status === 204) got(m.caseRef);
            else failures.count++;
          },
          () => void failures.count++,
        );
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

/** (g): a gateway on both sides, HTTP clients at both ends. */
async function gatewayPhase(fed: TestFederation, prefix: string, count: number, rate?: number): Promise<Result & { ackFailures: number }> {
  const { token } = await createToken(fed.agencyDirs[RECEIVER]!, ['receive']);
  const inn = await startGateway({ client: await fed.connect(RECEIVER), agencyDir: fed.agencyDirs[RECEIVER]!, logger: pino({ level: 'silent' }) });
  const r = receipts(prefix, count);
  const failures = { count: 0 };
  const ac = new AbortController();
  const reading = readStream(inn.url, token, (c) => r.got(c), failures, ac.signal);
  try {
    const sent = await withTimeout(sendFrom(fed, 'gateway', prefix, count, rate), PHASE_MS, 'gateway sender');
    await withTimeout(r.all, PHASE_MS, 'gateway receiver');
    return { ...r.result(sent.starts, sent.seconds), ackFailures: failures.count };
  } finally {
    ac.abort();
    await reading.catch(() => undefined);
    await inn.close();
  }
}

const fmt = (label: string, r: Result) =>
  console.log(`${label.padEnd(46)} ${r.rate.toFixed(0).padStart(6)} msg/s   p50 ${r.p50.toFixed(1).padStart(7)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   (sender alone ${r.sendRate.toFixed(0)} msg/s)`);

async function main(): Promise<void> {
  const fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'bench-gateway' });
  try {
    console.log(`gateway bench: directed ${TYPE} ${SENDER} → ${RECEIVER}; saturation: ${N} with ${WINDOW} sends in flight; paced: ${PACED_N} at ${RATE} msg/s`);
    const s = await sdkPhase(fed, 'S-', N);
    fmt('(s) SDK → SDK, saturation', s);
    const g = await gatewayPhase(fed, 'G-', N);
    fmt('(g) HTTP → gateway … gateway → SSE + ack', g);
    const sp = await sdkPhase(fed, 'SP-', PACED_N, RATE);
    fmt(`(s) SDK → SDK at ${RATE} msg/s`, sp);
    const gp = await gatewayPhase(fed, 'GP-', PACED_N, RATE);
    fmt(`(g) gateway at ${RATE} msg/s`, gp);
    console.log(`acknowledgements that failed: ${g.ackFailures + gp.ackFailures}`);
    console.log(`${'ratio (g)/(s) end-to-end rate'.padEnd(46)} ${(g.rate / s.rate).toFixed(2).padStart(6)}`);
    console.log(`${`p99 at ${RATE} msg/s: gateway − SDK (ms)`.padEnd(46)} ${(gp.p99 - sp.p99).toFixed(1).padStart(6)}`);
    const mem = process.memoryUsage();
    console.log(`memory (receiving side): rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await fed.stop();
  }
}

runBounded('gateway', 8 * 60_000, main);
