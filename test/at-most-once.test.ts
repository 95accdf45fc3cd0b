/**
 * At most once at the handler, durably (issue 12, finding 4): a message reaches an agency's handler at
 * most once across a SIGKILL of the receiver, a SIGKILL of nats-server and replays by anyone, while
 * nothing whose publish was acknowledged is lost. Real nats-server, real receiver processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectOptions, LiaisonClient } from '../services/sdk/client/client.ts';
import type { Rejection } from '../services/sdk/client/consume.ts';
import { covers, floorKey, parseEntry, parseFloor } from '../services/sdk/client/record-entry.ts';
import type { SealedMessage } from '../services/sdk/envelope/seal.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { parsePolicy } from '../services/sdk/policy/index.ts';
import { QUARANTINE_STREAM, quarantineSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, EXAMPLE_POLICY, type TestFederation } from './support/federation.ts';
import { setConsumerLimits } from './support/consumer-limits.ts';
import { typeCatalogFromList } from './support/catalogue-list.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const TYPE = 'IntelligenceReport';
const BURST = 2_500;
/** Ack wait of the receiver's consumer in these tests (provisioned 30 s): a killed receiver's copies come back sooner. */
const ACK_WAIT_MS = 4_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (i: number) => ({ summary: `vessel sighting ${i}`, migrantsCount: i % 90, assessment: 'crash test' });

/** The receiver as a child process (test/support/at-most-once-receiver.ts); resolves once it consumes. */
async function receiverProcess(agencyDir: string, out: string, flags: string[] = []): Promise<ChildProcess> {
  const child = spawn(NODE, ['test/support/at-most-once-receiver.ts', agencyDir, out, TYPE, ...flags], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' },
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  await until(() => text.includes('ready') || child.exitCode !== null, 20_000, 'the receiver process to start');
  if (child.exitCode !== null) throw new Error(`receiver exited: ${text}`);
  return child;
}

async function sigkill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** `<sender> <id>` lines the handler appended, with how often each appears. */
async function handledCounts(out: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!existsSync(out)) return counts;
  for (const line of (await readFile(out, 'utf8')).split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

/** What the receiver's quarantine holds: reject code, sender and id headers. */
async function quarantined(fed: TestFederation): Promise<{ code: string; sender?: string; id?: string }[]> {
  const out: { code: string; sender?: string; id?: string }[] = [];
  const info = await (await jetstreamManager(fed.exchange.admin)).streams.info(QUARANTINE_STREAM);
  if (info.state.messages === 0) return out;
  const consumer = await jetstream(fed.exchange.admin).consumers.get(QUARANTINE_STREAM);
  const batch = await consumer.fetch({ max_messages: 10_000, expires: 2_000 });
  for await (const m of batch) {
    if (m.subject === quarantineSubject(RECEIVER)) {
      out.push({ code: m.headers?.get('liaison-reject-code') ?? '', sender: m.headers?.get('liaison-sender') || undefined, id: m.headers?.get('liaison-msg-id') || undefined });
    }
    if (m.info.pending === 0) break;
  }
  return out;
}

/**
 * Send `n` messages at a steady pace (a burst spread over ~`seconds`, 32 in flight at most);
 * resolves with the ids whose publish JetStream acknowledged. Failed sends (server down) are counted.
 */
async function burst(police: LiaisonClient, n: number, seconds: number): Promise<{ acked: string[]; failed: number }> {
  const acked: string[] = [];
  let failed = 0;
  const perTick = Math.max(1, Math.ceil(n / (seconds * 20)));
  for (let i = 0; i < n; i += perTick) {
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(perTick, n - i) }, (_, k) =>
        police.send(TYPE, report(i + k), { to: RECEIVER }).then(
          (r) => void acked.push(`${SENDER} ${r.id}`),
          () => void failed++,
        ),
      ),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - t0))));
  }
  return { acked, failed };
}

describe('at most once at the handler, durably (issue 12, finding 4)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let work: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [SENDER, RECEIVER], name: 'at-most-once' });
    work = await mkdtemp(join(tmpdir(), 'liaison-amo-'));
    police = await fed.connect(SENDER);
    // Shorten the ack wait of the receiver's IntelligenceReport consumers (as the exchange administrator).
    await setConsumerLimits(fed, RECEIVER, { ackWaitMs: ACK_WAIT_MS }, [TYPE]);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await sigkill(c);
  });
  afterAll(async () => {
    await fed?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Every acknowledged message handled exactly once or (in doubt) quarantined with its id; none twice. */
  async function account(out: string, acked: string[]) {
    const counts = await handledCounts(out);
    const inDoubt = new Set((await quarantined(fed)).filter((q) => q.code === 'ERR_IN_DOUBT').map((q) => `${q.sender} ${q.id}`));
    const twice = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
    const lost = acked.filter((k) => !counts.has(k) && !inDoubt.has(k));
    const inDoubtOfBurst = acked.filter((k) => inDoubt.has(k));
    return { counts, twice, lost, inDoubt: inDoubtOfBurst };
  }

  /** {@link account} once every acknowledged message is handled or quarantined, or after `ms`. */
  async function settle(out: string, acked: string[], ms: number) {
    const deadline = Date.now() + ms;
    let last = await account(out, acked);
    while (last.lost.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      last = await account(out, acked);
    }
    return last;
  }

  it(`a receiver SIGKILLed mid-burst of ${BURST} and restarted: 0 acknowledged lost, 0 handled twice, every in-doubt one quarantined`, async () => {
    const out = join(work, 'handled-receiver-kill.txt');
    const dir = fed.agencyDirs[RECEIVER]!;
    const flags = process.env.AMO_NO_RECORD ? ['--no-record'] : [];
    children.push(await receiverProcess(dir, out, flags));
    // Faster than the receiver handles them, so it is killed with a backlog in flight.
    const sending = burst(police, BURST, 1.5);
    await until(() => existsSync(out), 20_000, 'the first handled message');
    await sleep(700);
    const killedAt = (await handledCounts(out)).size;
    await sigkill(children[0]!);
    children.push(await receiverProcess(dir, out, flags));
    const { acked, failed } = await sending;
    expect(failed).toBe(0);
    expect(acked).toHaveLength(BURST);
    const last = await settle(out, acked, 30_000);
    console.info(`[at-most-once] receiver SIGKILLed after ${killedAt} handled; ${acked.length} acknowledged: ${last.counts.size} handled, ${last.twice.length} twice, ${last.inDoubt.length} in doubt (quarantined), ${last.lost.length} lost`);
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(BURST);
    expect(last.twice).toEqual([]);
    expect(last.lost).toEqual([]);
  }, 90_000);

  it(`nats-server SIGKILLed mid-burst and restarted on its store, with the receiver: 0 acknowledged lost, 0 handled twice`, async () => {
    const out = join(work, 'handled-server-kill.txt');
    const dir = fed.agencyDirs[RECEIVER]!;
    const flags = process.env.AMO_NO_RECORD ? ['--no-record'] : [];
    children.push(await receiverProcess(dir, out, flags));
    const sending = burst(police, BURST, 5);
    await until(() => existsSync(out), 20_000, 'the first handled message');
    await sleep(1_200);
    const killedAt = (await handledCounts(out)).size;
    // A host crash: the receiver dies with the server, so no process memory can hide a redelivery.
    await sigkill(children[0]!);
    await fed.server.crashAndRestart(200);
    // The exchange's services reconnect on their own; the receiver starts once they answer.
    for (let attempt = 0; ; attempt++) {
      try {
        children.push(await receiverProcess(dir, out, flags));
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(500);
      }
    }
    const { acked, failed } = await sending;
    const last = await settle(out, acked, 30_000);
    console.info(`[at-most-once] nats-server SIGKILLed after ${killedAt} handled; ${acked.length} acknowledged (${failed} sends failed while it was down): ${last.counts.size} handled, ${last.twice.length} twice, ${last.inDoubt.length} in doubt (quarantined), ${last.lost.length} lost`);
    expect(killedAt).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(killedAt);
    expect(last.twice).toEqual([]);
    expect(last.lost).toEqual([]);
  }, 90_000);

  /** An in-process receiver of the burst type, recording what it handled and refused. */
  async function receiver(opts: Partial<ConnectOptions> = {}, consume: { redeliverInDoubt?: boolean } = {}) {
    const client = await fed.connect(RECEIVER, opts);
    const handled: string[] = [];
    const rejected: Rejection[] = [];
    await client.consume((m) => void handled.push(`${m.header.sender} ${m.header.id}`), { ...consume, types: [TYPE], onReject: (r) => void rejected.push(r) });
    return { client, handled, rejected };
  }

  /** Re-publish a sealed copy's exact bytes as its sender, with a raw client and without Nats-Msg-Id (no broker dedupe). */
  async function republish(sealed: SealedMessage): Promise<void> {
    const raw = await RawAgency.connect(fed.server.url, fed.agencyDirs[SENDER]!, SENDER);
    const copy = sealed.copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) if (k.toLowerCase() !== 'nats-msg-id') h.set(k, v);
    raw.nc.publish(copy.subject, copy.data, { headers: h });
    await raw.nc.flush();
    await raw.close();
  }

  it('a copy claimed but never marked done (killed between handler and ack) is quarantined as in doubt, never handed to the handler', async () => {
    const sent = await police.send(TYPE, report(1), { to: RECEIVER });
    // What a SIGKILL between the handler and its done mark leaves behind: a claim without done.
    const kv = await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`);
    await kv.create(`${SENDER}.${sent.id}`, `claim ${Date.now()}`);
    const r = await receiver();
    await until(() => r.rejected.some((x) => x.code === 'ERR_IN_DOUBT'), 10_000, 'the in-doubt copy to be quarantined');
    expect(r.handled).not.toContain(`${SENDER} ${sent.id}`);
    expect(r.client.stats.rejected.ERR_IN_DOUBT).toBe(1);
    expect(await quarantined(fed)).toContainEqual({ code: 'ERR_IN_DOUBT', sender: SENDER, id: sent.id });
    expect((await kv.get(`${SENDER}.${sent.id}`))?.string()).toMatch(/^quarantined /);
    // Control: a message without a claim is handled.
    const next = await police.send(TYPE, report(2), { to: RECEIVER });
    await until(() => r.handled.includes(`${SENDER} ${next.id}`), 10_000, 'the next message');
    await r.client.close();
  }, 30_000);

  it('an idempotent handler (redeliverInDoubt) gets the in-doubt copy again instead of quarantine, once', async () => {
    const sent = await police.send(TYPE, report(5), { to: RECEIVER });
    const kv = await new Kvm(fed.exchange.admin).open(`${RECEIVER}_handled`);
    await kv.create(`${SENDER}.${sent.id}`, `claim ${Date.now()}`);
    const r = await receiver({}, { redeliverInDoubt: true });
    await until(() => r.handled.includes(`${SENDER} ${sent.id}`), 10_000, 'the in-doubt copy handled again');
    // Claimed again by this process and covered by its durable done floor (handled-floor.test.ts).
    let done = false;
    for (let i = 0; i < 50 && !done; i++, await sleep(100)) {
      const claim = parseEntry((await kv.get(`${SENDER}.${sent.id}`))?.string() ?? '').claimOf;
      const floor = claim && (await kv.get(floorKey(claim.process)));
      done = !!claim && !!floor && covers(parseFloor(floor.string()), claim.n);
    }
    expect(done).toBe(true);
    expect(r.rejected).toEqual([]);
    expect(r.handled.filter((k) => k === `${SENDER} ${sent.id}`)).toHaveLength(1);
    await r.client.close();
  }, 30_000);

  it('a replay inside the tolerance after the receiver restarted is not handled again (the durable record, not memory)', async () => {
    const sealed = police.seal(TYPE, report(3), { to: RECEIVER });
    const key = `${SENDER} ${sealed.id}`;
    const first = await receiver();
    await police.publishSealed(sealed);
    await until(() => first.handled.includes(key), 10_000, 'the original');
    await first.client.close();
    const second = await receiver();
    await republish(sealed);
    await until(() => second.client.stats.duplicates === 1, 10_000, 'the replayed copy to be recognised');
    expect(second.handled).not.toContain(key);
    expect(second.rejected).toEqual([]);
    await second.client.close();
  }, 30_000);

  it('an agency re-publishing its own old envelope without Nats-Msg-Id after the tolerance is refused (ERR_REPLAY), also after the receiver restarts', async () => {
    const toleranceMs = 1_500;
    const sealed = police.seal(TYPE, report(4), { to: RECEIVER });
    const key = `${SENDER} ${sealed.id}`;
    const first = await receiver({ replayToleranceMs: toleranceMs });
    await police.publishSealed(sealed);
    await until(() => first.handled.includes(key), 10_000, 'the original');
    await sleep(toleranceMs + 500);
    await republish(sealed);
    await until(() => first.rejected.length > 0, 10_000, 'the replay to be refused');
    expect(first.rejected.map((x) => x.code)).toEqual(['ERR_REPLAY']);
    await first.client.close();
    const second = await receiver({ replayToleranceMs: toleranceMs });
    await republish(sealed);
    await until(() => second.rejected.length > 0, 10_000, 'the replay to be refused after the restart');
    expect(second.rejected.map((x) => x.code)).toEqual(['ERR_REPLAY']);
    expect([...first.handled, ...second.handled].filter((k) => k === key)).toHaveLength(1);
    expect((await quarantined(fed)).filter((q) => q.code === 'ERR_REPLAY')).toHaveLength(2);
    await second.client.close();
  }, 30_000);
});

describe('the handled record is built in', () => {
  it('a policy may not name a state bucket "handled" (every agency has one: the SDK would share it with the application)', () => {
    const text = readFileSync(EXAMPLE_POLICY, 'utf8');
    const catalog = typeCatalogFromList();
    expect(text).toContain('kv: [cases]');
    expect(() => parsePolicy(text, { catalog })).not.toThrow();
    let err: unknown;
    try {
      parsePolicy(text.replace('kv: [cases]', 'kv: [cases, handled]'), { catalog });
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_POLICY_INVALID')).toBe(true);
    expect((err as Error).message).toContain('bucket name "handled" is reserved');
  });
});
