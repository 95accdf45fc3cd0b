/**
 * One agency client of the soak, as its own process: `node test/bench/soak/agency-process.ts '<AgencyJob JSON>'`.
 * It receives everything its roles receive (counting each tracked copy by (sender, id), with its end-to-end
 * latency) and, from `startAt`, offers its messages and document checks at each phase's rate. It prints a
 * sample line every `sampleEveryMs`, `{"soak":"sent-all"}` once its phases are over, and on SIGTERM writes its
 * {@link AgencyResult} and exits 0. It exits when its parent goes (stdin closes).
 */
import { writeFile } from 'node:fs/promises';
import { LiaisonClient } from '../../../services/sdk/client/client.ts';
import type { ReceivedMessage } from '../../../services/sdk/envelope/open.ts';
import { keyOf, TRACKED_TYPES, type AgencyJob, type AgencyResult, type AgencySample, type Offer, type PhasePlan, type SentRecord } from './plan.ts';

const job = JSON.parse(process.argv[2] ?? '{}') as AgencyJob;
/** Sends and checks in flight at most; past it the load waits (a closed loop at saturation, never an unbounded queue). */
const MAX_IN_FLIGHT = 256;

const sent: SentRecord[] = [];
/** Numbers of the documents this agency reported (acknowledged), for checks that should hit. */
const reported: string[] = [];
const received = new Map<string, number>();
const receivedTypes: Record<string, string> = {};
let sendFailed = 0;
let e2e: number[] = [];
let checkLat: number[] = [];
const checks = { answered: 0, failed: 0, hits: 0 };
let checkFailedSince = 0;
let phaseName = 'waiting';
let stopping = false;

const person = { name: { familyName: 'Haddad', givenNames: 'Amir' } };

function onMessage(msg: ReceivedMessage): void {
  if (!TRACKED_TYPES.has(msg.type)) return;
  const k = keyOf(msg.header.sender, msg.header.id);
  received.set(k, (received.get(k) ?? 0) + 1);
  receivedTypes[k] = msg.type;
  e2e.push(Date.now() - msg.header.createdAt.getTime());
}

/** The offer for the n-th message: weights spread evenly (a deterministic round robin). */
function offerFor(n: number, offers: Offer[]): Offer {
  const total = offers.reduce((a, o) => a + o.weight, 0);
  let slot = n % total;
  for (const o of offers) {
    if (slot < o.weight) return o;
    slot -= o.weight;
  }
  return offers[0]!;
}

function bodyOf(o: Offer, n: number): Record<string, unknown> {
  if (o.type === 'DocumentReport') return { documentNumber: documentNumber(n), issuingCountry: job.country, documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' };
  if (o.type === 'IntelligenceReport') return { summary: `soak ${job.id} ${n}: vessel sighting off the coast` };
  return { kind: 'REFERRAL_KIND_PROTECTION', summary: `soak ${job.id} case ${n}`, subject: person, consentRecorded: true };
}

const documentNumber = (n: number) => `S${job.id.replace(/[^a-z]/g, '').slice(0, 3).toUpperCase()}${String(n).padStart(8, '0')}`;

async function sendOne(client: LiaisonClient, n: number): Promise<void> {
  const o = offerFor(n, job.offers);
  const at = Date.now();
  const body = bodyOf(o, n);
  // Sealed first, so a send whose acknowledgement never came (a timeout under overload) is still known by its id.
  const sealed = client.seal(o.type, body, o.to ? { to: o.to } : {});
  try {
    await client.publishSealed(sealed);
    sent.push({ id: sealed.id, type: o.type, at, acked: true });
    if (o.type === 'DocumentReport') reported.push(String(body.documentNumber));
  } catch {
    sent.push({ id: sealed.id, type: o.type, at, acked: false });
    sendFailed++;
  }
}

/** A document check: every other one asks for a number this agency reported (a hit once the registry applied it). */
async function checkOne(client: LiaisonClient, n: number): Promise<void> {
  const number = n % 2 === 0 && reported.length > 0 ? reported[n % reported.length]! : `SNONE${String(n).padStart(8, '0')}`;
  const t = performance.now();
  try {
    const r = await client.request('DocumentCheckRequest', { documentNumber: number, issuingCountry: job.country });
    checkLat.push(performance.now() - t);
    checks.answered++;
    if (r.body.outcome === 'CHECK_OUTCOME_HIT') checks.hits++;
  } catch {
    checks.failed++;
    checkFailedSince++;
  }
}

/** Run `task(i)` at `rate`/s for `seconds` from `start`, at most {@link MAX_IN_FLIGHT} at once. */
async function paced(rate: number, start: number, seconds: number, task: (i: number) => Promise<void>): Promise<void> {
  if (rate <= 0) return;
  const inflight = new Set<Promise<void>>();
  const count = Math.floor(rate * seconds);
  for (let i = 0; i < count && !stopping; i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inflight.size >= MAX_IN_FLIGHT) await Promise.race(inflight);
    const p: Promise<void> = task(i).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}

async function runPhases(client: LiaisonClient): Promise<void> {
  let start = job.startAt;
  let n = 0;
  let checked = 0;
  for (const phase of job.phases as PhasePlan[]) {
    if (stopping) break;
    phaseName = phase.name;
    const base = n;
    const checkBase = checked;
    const messages = job.offers.length > 0 ? paced(phase.rate, start, phase.seconds, (i) => sendOne(client, base + i)) : Promise.resolve();
    const checking = paced(phase.checkRate, start, phase.seconds, (i) => checkOne(client, checkBase + i));
    await Promise.all([messages, checking]);
    n += Math.floor(phase.rate * phase.seconds);
    checked += Math.floor(phase.checkRate * phase.seconds);
    start += phase.seconds * 1000;
  }
  phaseName = 'drain';
  process.stdout.write(`${JSON.stringify({ soak: 'sent-all', id: job.id })}\n`);
}

function sample(): void {
  const s: AgencySample = { soak: 'sample', id: job.id, t: Date.now(), phase: phaseName, sent: sent.length, sendFailed, received: [...received.values()].reduce((a, b) => a + b, 0), e2e, checks: checkLat, checkFailed: checkFailedSince };
  e2e = [];
  checkLat = [];
  checkFailedSince = 0;
  process.stdout.write(`${JSON.stringify(s)}\n`);
}

async function main(): Promise<void> {
  const client = await LiaisonClient.connect({ agencyDir: job.agencyDir, servers: [job.server] });
  await client.consume(async (msg) => onMessage(msg));
  const timer = setInterval(sample, job.sampleEveryMs);
  let finished: (() => void) | undefined;
  const stopped = new Promise<void>((r) => (finished = r));
  process.once('SIGTERM', () => {
    stopping = true;
    finished?.();
  });
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ soak: 'ready', id: job.id })}\n`);
  void runPhases(client);
  await stopped;
  clearInterval(timer);
  sample();
  const result: AgencyResult = { id: job.id, sent, received: Object.fromEntries(received), receivedTypes, checks };
  await writeFile(job.out, JSON.stringify(result));
  await client.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak agency ${job.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
