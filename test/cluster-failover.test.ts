/**
 * Scale-out on NATS clustering (issue 16): a three-node exchange (JetStream R3 over RAFT, TLS for clients and
 * between routes) loses nothing acknowledged and hands nothing twice when a node dies mid-burst — the sender's
 * node, or the leader of the burst's stream; clients reconnect to the survivors; the ¶16 registry and the case
 * registry keep answering; the killed node restarted catches up; an account JWT pushed (a revocation) while a node
 * is down holds on that node when it returns. Real nats-server processes (test/fixture/nats-cluster.ts), real
 * receiver processes (test/support/at-most-once-receiver.ts), bounded in time and count.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from '../services/registry/service.ts';
import { registryState } from '../services/registry/state.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { startWorkflows, type Workflows } from '../services/workflows/service.ts';
import type { ClusterNode } from '../services/exchange/nats-cluster.ts';
import { createClusterFederation, examplePolicyFor, type ClusterFederation } from './support/cluster-federation.ts';
import { RawAgency } from './support/violations.ts';
import { until } from './support/workflows.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const CHECKER = 'xb-police';
const REGISTRY = 'xc-ncb';
const CASES = 'mac-cases';
/** Revoked while a node is down. */
const VICTIM = 'xa-coast-guard';
const TYPE = 'IntelligenceReport';
const BURST = 5_000;
/** Ack wait of the receiver's consumers here (provisioned 30 s): copies whose ack died with a node come back sooner. */
const ACK_WAIT_MS = 4_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (i: number) => ({ summary: `vessel sighting ${i}`, migrantsCount: i % 90, assessment: 'cluster failover' });

/** The receiver as a child process; resolves once it consumes. */
async function receiverProcess(agencyDir: string, out: string): Promise<ChildProcess> {
  const child = spawn(NODE, ['test/support/at-most-once-receiver.ts', agencyDir, out, TYPE], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIAISON_LOG_LEVEL: 'warn' } });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  await until(() => text.includes('ready') || child.exitCode !== null, 30_000, 'the receiver process to start');
  if (child.exitCode !== null) throw new Error(`receiver exited: ${text}`);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

/** `<sender> <id>` lines the handler appended, with how often each appears. */
async function handledCounts(out: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!existsSync(out)) return counts;
  for (const line of (await readFile(out, 'utf8')).split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

/** What a burst left: ids acknowledged, sends failed, and when each acknowledgement arrived relative to each send. */
interface BurstResult {
  acked: string[];
  failed: number;
  /** Acknowledged sends: [started at, acknowledged at] (ms since epoch). */
  times: [number, number][];
}

/** Send `n` messages spread over ~`seconds` (at most `perTick` every 50 ms); `onProgress` sees the count acknowledged. */
async function burst(police: LiaisonClient, n: number, seconds: number, onProgress?: (acked: number) => void): Promise<BurstResult> {
  const out: BurstResult = { acked: [], failed: 0, times: [] };
  const perTick = Math.max(1, Math.ceil(n / (seconds * 20)));
  for (let i = 0; i < n; i += perTick) {
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(perTick, n - i) }, (_, k) => {
        const started = Date.now();
        return police.send(TYPE, report(i + k), { to: RECEIVER }).then(
          (r) => {
            out.acked.push(`${SENDER} ${r.id}`);
            out.times.push([started, Date.now()]);
            onProgress?.(out.acked.length);
          },
          () => void out.failed++,
        );
      }),
    );
    await sleep(Math.max(0, 50 - (Date.now() - t0)));
  }
  return out;
}

/** The state of `stream` as node `node` holds it (its monitoring `/jsz`), or undefined when it holds none. */
async function streamOn(node: ClusterNode, stream: string): Promise<{ messages: number; last_seq: number } | undefined> {
  const res = await fetch(`http://${node.host}:${node.httpPort}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(3_000) });
  const body = (await res.json()) as { account_details?: { stream_detail?: { name: string; state: { messages: number; last_seq: number } }[] }[] };
  for (const a of body.account_details ?? []) for (const s of a.stream_detail ?? []) if (s.name === stream) return s.state;
  return undefined;
}

describe('a three-node exchange loses nothing when a node dies (issue 16)', () => {
  let fed: ClusterFederation;
  let police: LiaisonClient;
  let checker: LiaisonClient;
  let registry: Registry;
  let cases: Workflows;
  let work: string;
  /** The burst type's stream. */
  let stream: string;
  let receiver: ChildProcess | undefined;

  beforeAll(async () => {
    fed = await createClusterFederation({ agencies: [SENDER, RECEIVER, CHECKER, REGISTRY, CASES, VICTIM], name: 'failover', policyText: await examplePolicyFor([SENDER, RECEIVER, CHECKER, REGISTRY, CASES, VICTIM]) });
    work = await mkdtemp(join(tmpdir(), 'liaison-failover-'));
    police = await fed.connect(SENDER);
    checker = await fed.connect(CHECKER);
    const probe = await fed.connect(RECEIVER);
    const jsm = await jetstreamManager(fed.exchange.admin);
    const specs = probe.consumerSpecs([TYPE]);
    for (const c of specs) await jsm.consumers.update(c.stream, c.name, { ack_wait: ACK_WAIT_MS * 1_000_000 });
    stream = specs[0]!.stream;
    await probe.close();
    registry = await startRegistry({ client: await fed.connect(REGISTRY), ...registryState(randomBytes(32)) });
    cases = await startWorkflows({ client: await fed.connect(CASES) });
    await police.send('DocumentReport', { documentNumber: 'XA1600001', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_LOST' });
    await until(() => registry.store.size === 1, 20_000, 'the registry to index the report');
  }, 240_000);
  afterAll(async () => {
    if (receiver) await stopChild(receiver);
    await cases?.stop();
    await registry?.stop();
    await fed?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);
  afterEach(async () => {
    // A failed test leaves no node down for the next one (two down: no quorum).
    for (const n of fed?.cluster.nodes ?? []) if (n.process === undefined) await fed.cluster.restart(n.index);
  }, 60_000);

  /** The ¶16 registry and the case registry each answer a request (bounded). */
  async function servicesAnswer(): Promise<void> {
    const check = await checker.request('DocumentCheckRequest', { documentNumber: 'XA1600001', issuingCountry: 'XAA' }, { timeoutMs: 10_000 });
    expect(check.body.outcome).toBe('CHECK_OUTCOME_HIT');
    const found = await police.request('CaseQuery', { caseRef: 'none-such' }, { timeoutMs: 10_000 });
    expect(found.type).toBe('CaseQueryResult');
  }

  /**
   * A burst of {@link BURST} with node `victim()` SIGKILLed once `killAfter` are acknowledged; the node restarted
   * afterwards. Returns the accounting and the time from the node's death to the first acknowledged publish
   * started after it.
   */
  async function burstThroughKill(label: string, victim: () => Promise<number>) {
    const out = join(work, `handled-${label}.txt`);
    receiver = await receiverProcess(fed.agencyDirs[RECEIVER]!, out);
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    let node = 0;
    let firstPublishMs = Number.NaN;
    const probeAcked: string[] = [];
    const sending = burst(police, BURST, 12, (n) => {
      if (n === 1_000 && !killing) {
        killing = (async () => {
          node = await victim();
          await fed.cluster.kill(node);
          killedAt = Date.now();
          firstPublishMs = await firstPublishAfter(killedAt, probeAcked);
        })();
      }
    });
    const sent = await sending;
    await killing;
    expect(node).toBeGreaterThan(0);
    // The survivors answer while the node is down.
    await servicesAnswer();
    const deadline = Date.now() + 60_000;
    let counts = await handledCounts(out);
    while ([...sent.acked, ...probeAcked].some((k) => !counts.has(k)) && Date.now() < deadline) {
      await sleep(500);
      counts = await handledCounts(out);
    }
    sent.acked.push(...probeAcked);
    const lost = sent.acked.filter((k) => !counts.has(k));
    const twice = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
    await stopChild(receiver);
    receiver = undefined;
    console.info(`[cluster-failover] ${label}: node ${node} SIGKILLed after 1000 acked; ${sent.acked.length} of ${BURST} acknowledged (${sent.failed} sends failed), ${counts.size} handled, ${twice.length} twice, ${lost.length} lost; death → first acknowledged publish ${firstPublishMs} ms`);
    return { node, sent, lost, twice, firstPublishMs, counts };
  }

  /**
   * Milliseconds from `killedAt` to the first acknowledged publish of a probe sending one message at a time (its
   * acknowledged ids go to `acked`, for the accounting); NaN when none within 60 s.
   */
  async function firstPublishAfter(killedAt: number, acked: string[]): Promise<number> {
    for (let i = 0; Date.now() - killedAt < 60_000; i++) {
      try {
        const r = await police.send(TYPE, report(BURST + i), { to: RECEIVER });
        acked.push(`${SENDER} ${r.id}`);
        return Date.now() - killedAt;
      } catch {
        await sleep(20);
      }
    }
    return Number.NaN;
  }

  /** Restart node `index` and wait until it holds the burst stream at the survivors' last sequence. */
  async function restartAndCatchUp(index: number): Promise<number> {
    const t0 = Date.now();
    await fed.cluster.restart(index);
    const node = fed.cluster.nodes[index - 1]!;
    const info = await (await jetstreamManager(fed.exchange.admin)).streams.info(stream);
    const deadline = Date.now() + 60_000;
    let state = await streamOn(node, stream).catch(() => undefined);
    while ((state?.last_seq ?? 0) < info.state.last_seq && Date.now() < deadline) {
      await sleep(500);
      state = await streamOn(node, stream).catch(() => undefined);
    }
    expect(state?.last_seq).toBeGreaterThanOrEqual(info.state.last_seq);
    expect(state?.messages).toBe(info.state.messages);
    return Date.now() - t0;
  }

  it('every stream, KV bucket and object store of the exchange is kept at 3 replicas, one on each node', async () => {
    const jsm = await jetstreamManager(fed.exchange.admin);
    const seen: string[] = [];
    for await (const si of jsm.streams.list()) {
      seen.push(si.config.name);
      expect({ stream: si.config.name, replicas: si.config.num_replicas }).toEqual({ stream: si.config.name, replicas: 3 });
      expect(si.cluster?.leader).toBeTruthy();
      expect(si.cluster?.replicas ?? []).toHaveLength(2);
    }
    expect(fed.exchange.replicas).toBe(3);
    expect(seen).toContain(stream);
    expect(seen.some((s) => s.startsWith('KV_'))).toBe(true);
    expect(seen.some((s) => s.startsWith('OBJ_'))).toBe(true);
  }, 30_000);

  it(`the sender's node SIGKILLed mid-burst of ${BURST}: 0 acknowledged lost, 0 handled twice, the sender reconnects to a survivor, the node catches up`, async () => {
    // The sender's node must not also lead the burst's stream: a publish waiting on a dead stream leader is the next
    // test's case (its 10 s acknowledgement timeout). Placement is random, so move the leadership away when it is there.
    const leaderOf = async () => fed.cluster.indexOf((await (await jetstreamManager(fed.exchange.admin)).streams.info(stream)).cluster!.leader!);
    const senderNode = fed.cluster.indexOf(police.nc.info!.server_name);
    for (let i = 0; i < 5 && (await leaderOf()) === senderNode; i++) {
      await fed.exchange.admin.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 10_000 }).catch(() => undefined);
      await sleep(2_000);
    }
    expect(await leaderOf()).not.toBe(senderNode);
    const r = await burstThroughKill('sender-node', async () => fed.cluster.indexOf(police.nc.info!.server_name));
    expect(r.sent.acked.length).toBeGreaterThan(1_000);
    // Its pending publishes fail when the connection drops (their acks died with the node); the next send goes out on
    // the connection to a survivor. Measured 32–359 ms (a probe, 4 kills at load 11) and 188 ms here. The 10.2 s seen
    // before came from runs where the sender's node also led the stream (a publish waiting out the SDK's 10 s
    // acknowledgement deadline: the next test's case, now resent after the cluster change); that is excluded above.
    expect(r.firstPublishMs).toBeLessThan(5_000);
    expect(r.twice).toEqual([]);
    expect(r.lost).toEqual([]);
    // It was connected to the dead node and published after it died: it reconnected elsewhere.
    expect(fed.cluster.indexOf(police.nc.info!.server_name)).not.toBe(r.node);
    expect(r.sent.acked.length).toBeGreaterThan(1_000 + 100);
    const catchUpMs = await restartAndCatchUp(r.node);
    console.info(`[cluster-failover] sender-node: node ${r.node} restarted and caught up in ${catchUpMs} ms`);
  }, 240_000);

  it(`the leader of the burst's stream SIGKILLed mid-burst of ${BURST}: 0 acknowledged lost, 0 handled twice, a new leader, the node catches up`, async () => {
    const leaderOf = async () => fed.cluster.indexOf((await (await jetstreamManager(fed.exchange.admin)).streams.info(stream)).cluster!.leader!);
    const r = await burstThroughKill('stream-leader', leaderOf);
    expect(r.sent.acked.length).toBeGreaterThan(1_000 + 100);
    // A publish forwarded to the dead leader got no answer; the SDK sends what is waiting again once the server announces
    // the cluster change and while the stream answers "no responders" (publisher.ts), so the new leader answers after
    // its election (test/publish-resend proves the mechanism with a 60 s deadline). Bounded here generously for load.
    expect(r.firstPublishMs).toBeLessThan(20_000);
    expect(r.twice).toEqual([]);
    expect(r.lost).toEqual([]);
    expect(await leaderOf()).not.toBe(r.node);
    const catchUpMs = await restartAndCatchUp(r.node);
    console.info(`[cluster-failover] stream-leader: node ${r.node} restarted and caught up in ${catchUpMs} ms`);
  }, 240_000);

  it('a revocation pushed while a node is down holds on that node when it returns', async () => {
    const index = 3;
    const node = fed.cluster.nodes[index - 1]!;
    // Control: the agency connects to that node before.
    const before = await RawAgency.connect(node.url, fed.agencyDirs[VICTIM]!, VICTIM);
    await before.close();
    await fed.cluster.kill(index);
    const t0revoke = Date.now();
    await fed.exchange.revoke(VICTIM);
    // Its durable consumers are deleted by name (no listing, which would wait for the dead node on every stream).
    console.info(`[cluster-failover] revoked while node ${index} was down in ${Date.now() - t0revoke} ms`);
    expect(fed.exchange.provisioned.removedConsumers.filter((c) => c.startsWith(`${VICTIM}__`)).length).toBeGreaterThan(0);
    await fed.cluster.restart(index);
    // The returning node learns the account update from its peers (full resolver): it refuses the revoked user.
    const t0 = Date.now();
    let refused: string | undefined;
    while (refused === undefined && Date.now() - t0 < 30_000) {
      try {
        const raw = await RawAgency.connect(node.url, fed.agencyDirs[VICTIM]!, VICTIM);
        await raw.close();
        await sleep(250);
      } catch (err) {
        refused = (err as Error).message;
      }
    }
    console.info(`[cluster-failover] revoked while node ${index} was down: refused there ${Date.now() - t0} ms after its restart (${refused})`);
    expect(refused).toMatch(/authorization|revoked/i);
    // And it keeps refusing (not a transient failure of a node still starting).
    await expect(RawAgency.connect(node.url, fed.agencyDirs[VICTIM]!, VICTIM)).rejects.toThrow(/authorization|revoked/i);
  }, 120_000);
});
