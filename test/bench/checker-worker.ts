import { parentPort, workerData } from 'node:worker_threads';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { LiaisonClient } from '../../services/sdk/client/client.ts';
import { requestHash, serverFor } from '../../services/sdk/client/rpc.ts';
import { BUSY_HEADER, verifyBusyStatement } from '../../services/sdk/client/busy-statement.ts';
import { openEnvelope, type KeyResolver } from '../../services/sdk/envelope/open.ts';
import { isLiaisonError } from '../../services/sdk/errors.ts';
import { serviceSubject } from '../../services/sdk/subjects.ts';

/**
 * Registry benchmark client, in a worker thread (the checking agency's own core): signed document checks,
 * - open loop (`mode: 'open'`): sent at `rate` per second on schedule, whatever the answers;
 * - closed loop (`mode: 'closed'`): `window` checks outstanding, each answered one followed by the next, paced
 *   to at most `rate` per second (the registry's pace sets the rate when it cannot keep up).
 * One check in `hitEvery` asks for a reported number (INTERPOL: ≈ 232 k hits in 3.6 bn searches).
 * A check refused busy (ERR_BUSY) or not answered in `timeoutMs` (ERR_TIMEOUT) is a figure, counted, never a crash.
 * With `presign` (open loop only), every request is signed before the window and every reply verified after it: the
 * asker's own cryptography, which on a real deployment runs on the asker's host, then does not compete in the window.
 */
interface Job {
  agencyDir: string;
  url: string;
  records: number;
  count: number;
  mode: 'open' | 'closed';
  rate: number;
  window?: number;
  hitEvery: number;
  timeoutMs: number;
  presign?: boolean;
  /** Closed loop: send nothing new after this many ms. */
  maxMs?: number;
}

/** What a run measured (latencies in ms of the checks answered with a result, and of the busy refusals). */
export interface CheckerResult {
  lat: number[];
  busyLat: number[];
  timeouts: number;
  /** Other typed failures, by code. */
  failed: Record<string, number>;
  sent: number;
  seconds: number;
  /** Open loop: how far behind its schedule the asker sent its last check (ms; its own cores were the limit). */
  behindMs: number;
}

const job = workerData as Job;
const number = (i: number) => `XA${String(i).padStart(9, '0')}`;
const hitOf = (i: number) => i % job.hitEvery === 0;
const documentOf = (i: number) => number(hitOf(i) ? (i * 7919) % job.records : job.records + i);
/**
 * Wait until a check's turn; behind schedule, still yield to the event loop (never a bare microtask): an asker that
 * fell behind would otherwise sign on without ever reading its replies, and time out checks the registry answered.
 */
const sleep = (ms: number) => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

async function run(): Promise<void> {
  const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.url] });
  const out: CheckerResult = { lat: [], busyLat: [], timeouts: 0, failed: {}, sent: 0, seconds: 0, behindMs: 0 };
  /** One check through the SDK (signed request, verified reply), its fate counted. */
  const check = async (i: number): Promise<void> => {
    const t = performance.now();
    out.sent++;
    try {
      const r = await client.request('DocumentCheckRequest', { documentNumber: documentOf(i), issuingCountry: 'XAA' }, { timeoutMs: job.timeoutMs });
      if ((r.body.outcome === 'CHECK_OUTCOME_HIT') !== hitOf(i)) throw new Error(`check ${documentOf(i)}: unexpected ${String(r.body.outcome)}`);
      out.lat.push(performance.now() - t);
    } catch (err) {
      if (!isLiaisonError(err)) throw err;
      if (err.code === 'ERR_BUSY') out.busyLat.push(performance.now() - t);
      else if (err.code === 'ERR_TIMEOUT') out.timeouts++;
      else out.failed[err.code] = (out.failed[err.code] ?? 0) + 1;
    }
  };
  for (let i = 1; i <= 200; i++) await check(i); // warm up (not counted)
  Object.assign(out, { lat: [], busyLat: [], timeouts: 0, failed: {}, sent: 0 });
  let start = performance.now();
  if (job.presign) start = await presigned(client, out);
  else if (job.mode === 'open') {
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < job.count; i++) {
      await sleep(start + (i * 1000) / job.rate - performance.now());
      out.behindMs = performance.now() - (start + (i * 1000) / job.rate);
      inflight.push(check(i));
    }
    await Promise.all(inflight);
  } else {
    let next = 0;
    const end = start + (job.maxMs ?? Infinity);
    await Promise.all(
      Array.from({ length: job.window ?? 64 }, async () => {
        while (next < job.count && performance.now() < end) {
          const i = next++;
          await sleep(start + (i * 1000) / job.rate - performance.now());
          await check(i);
        }
      }),
    );
  }
  out.seconds = (performance.now() - start) / 1000;
  await client.close();
  parentPort?.postMessage(out);
}

/**
 * Open loop with requests signed before the window and replies verified after it (see the module comment); returns
 * when its window began.
 */
async function presigned(client: LiaisonClient, out: CheckerResult): Promise<number> {
  const info = client.catalog.get('DocumentCheckRequest');
  const server = serverFor(client.policy, info.name);
  const subject = serviceSubject(info.family, info.name, client.id);
  const sealed = Array.from({ length: job.count }, (_, i) => {
    const copy = client.seal(info.name, { documentNumber: documentOf(i), issuingCountry: 'XAA' }, { to: server }).copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    return { data: copy.data, headers: h };
  });
  const replies: { m: Msg; ms: number }[] = [];
  const start = performance.now();
  const wallStart = Date.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < job.count; i++) {
    await sleep(start + (i * 1000) / job.rate - performance.now());
    const t = performance.now();
    out.sent++;
    inflight.push(
      client.nc.request(subject, sealed[i]!.data, { headers: sealed[i]!.headers, timeout: job.timeoutMs }).then(
        (m) => void (replies[i] = { m, ms: performance.now() - t }),
        () => void out.timeouts++, // no responders cannot happen mid-run: the registry answers or the request times out
      ),
    );
  }
  await Promise.all(inflight);
  const windowEnd = performance.now();
  const ctx = client.openContext();
  replies.forEach(({ m, ms }, i) => {
    const refusal = m.headers?.get('Nats-Service-Error');
    if (refusal?.startsWith('ERR_BUSY:') && believedBusy(m, ctx.keys, server, wallStart)) return void out.busyLat.push(ms);
    if (refusal) return void (out.failed[refusal.split(':')[0]!] = (out.failed[refusal.split(':')[0]!] ?? 0) + 1);
    const r = openEnvelope(ctx, { subject: m.subject, data: m.data, header: (n) => m.headers?.get(n) || undefined }, { route: 'reply', from: server, requestHash: requestHash(sealed[i]!.data) });
    if (r.body.outcome === 'CHECK_OUTCOME_BUSY') return void out.busyLat.push(ms);
    if ((r.body.outcome === 'CHECK_OUTCOME_HIT') !== hitOf(i)) throw new Error(`check ${i}: unexpected ${String(r.body.outcome)}`);
    out.lat.push(ms);
  });
  return start + (performance.now() - windowEnd); // the verifying after the window is not part of it
}

/** A busy refusal whose signed statement verifies as the server's, current since the window began (busy-statement.ts). */
function believedBusy(m: Msg, keys: KeyResolver, server: string, windowStart: number): boolean {
  try {
    verifyBusyStatement(m.headers?.get(BUSY_HEADER) || undefined, { server, keys, sentAt: windowStart, now: Date.now() });
    return true;
  } catch {
    return false;
  }
}

run().catch((err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }));
