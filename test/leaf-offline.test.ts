/**
 * Edge nodes (issue 17, part A): an agency's leaf node keeps its sends while the exchange is unreachable and
 * delivers them after reconnect — in order, with their original signatures, none twice — and a leaf widens
 * nothing: the exchange enforces the agency's own permissions on everything that crosses it.
 * Real nats-server processes (hub with a TLS leafnode port, the agency's leaf), real crypto, loopback.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs } from '../services/cli/connect.ts';
import { connectViaLeaf } from '../services/edge/connect.ts';
import { leafPaths } from '../services/edge/paths.ts';
import { Forwarder } from '../services/edge/forwarder.ts';
import { startLeaf, type RunningLeaf } from '../services/edge/leaf.ts';
import { ForwarderCursor, OUTBOX_STREAM, outboxSubjects } from '../services/edge/outbox.ts';
import { freePort, spawnNatsServer, type NatsProcess } from '../services/exchange/nats-process.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { compileConsumers } from '../services/sdk/policy/index.ts';
import { agencyPaths } from '../services/sdk/trust/paths.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { loadAgencyDir } from '../services/sdk/client/identity.ts';
import { LiaisonClient as Client } from '../services/sdk/client/client.ts';
import { agencyJsApi, consumerName, inboxPrefix, streamName } from '../services/sdk/subjects.ts';
import { createEdgeFederation, type EdgeFederation } from './support/edge.ts';
import { until } from './support/workflows.ts';

const SENDER = 'xa-border-police';
const RECEIVER = 'mac-centre';
const VICTIM = 'xa-coast-guard';
/** An agency that runs a leaf of its own making (no outbox, no deny list) and tries what its policy denies. */
const ROGUE = 'xa-ngo-harbour';
const TYPE = 'IntelligenceReport';
const OFFLINE = 1_000;
/** The backlog during which the hub is stopped a second time. */
const MID = 1_000;
/** Sends of a process started while the hub is down (from the cached directory). */
const LATE = 1;
const report = (i: number) => ({ summary: `vessel sighting ${i}`, migrantsCount: i % 90, assessment: 'leaf test' });

describe('leaf node: offline sends delivered after reconnect, in order, verified, once', () => {
  let fed: EdgeFederation;
  let leaf: RunningLeaf;
  let sender: LiaisonClient;
  let receiver: LiaisonClient;
  /** The forwarder after the lost-cursor test (the leaf's own is stopped there). */
  let forwarder: Forwarder;
  let local: NatsConnection;
  /** `<sender> <id>` in the order the receiver's handler got them, and how often each. */
  const handled: string[] = [];
  const counts = new Map<string, number>();
  const createdAt = new Map<string, number>();
  /** Where the exchange stored each copy, and on which delivery the receiver got it. */
  const streamSeq = new Map<string, number>();
  const redelivered = new Set<string>();
  /** Ids in outbox order (the order the agency sent them). */
  const sent: { id: string; seq: number }[] = [];

  beforeAll(async () => {
    fed = await createEdgeFederation({ agencies: [SENDER, RECEIVER, VICTIM, ROGUE] });
    leaf = await startLeaf({ agencyDir: fed.agencyDirs[SENDER]!, port: await freePort(), hubUrl: fed.leafUrl, retryMs: 250, window: 64 });
    expect(await leaf.linked(15_000)).toBe(true);
    sender = await connectViaLeaf({ agencyDir: fed.agencyDirs[SENDER]!, catalog: fed.catalog });
    receiver = await Client.connect({ agencyDir: fed.agencyDirs[RECEIVER]!, catalog: fed.catalog });
    await receiver.consume(
      (m) => {
        const key = `${m.header.sender} ${m.header.id}`;
        handled.push(key);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        createdAt.set(key, m.header.createdAt.getTime());
        streamSeq.set(key, m.delivery?.streamSeq ?? 0);
        if ((m.delivery?.deliveryCount ?? 1) > 1) redelivered.add(key);
      },
      { types: [TYPE] },
    );
  }, 150_000);

  afterAll(async () => {
    await sender?.close();
    await receiver?.close();
    await forwarder?.stop();
    await local?.close();
    await leaf?.stop();
    await fed?.stop();
  });

  async function sendInOrder(n: number, from: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      const receipts = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => sender.send(TYPE, report(from + i + k), { to: RECEIVER })));
      for (const r of receipts) {
        expect(r.copies).toHaveLength(1);
        expect(r.copies[0]!.stream, 'the leaf stores every send in its own outbox').toBe(OUTBOX_STREAM);
        sent.push({ id: `${SENDER} ${r.id}`, seq: r.copies[0]!.seq });
      }
    }
  }

  it('online: the leaf forwards what its agency sends; the receiver verifies it', async () => {
    await sendInOrder(20, 0);
    await until(() => handled.length === 20, 20_000, 'the online sends to arrive');
    expect(leaf.forwarder.stats.forwarded).toBe(20);
    expect(receiver.stats.rejected).toEqual({});
  }, 30_000);

  it(`offline: ${OFFLINE} sends while the hub is stopped are stored on the leaf, readable there, and all delivered after restart — in order, verified, none twice`, async () => {
    await fed.stopHub();
    await until(() => !leaf.forwarder.stats.online, 10_000, 'the forwarder to notice the hub is gone');
    await sendInOrder(OFFLINE, 20);
    // Still offline: the agency reads what it sent from its own JetStream domain.
    const local = await (await jetstreamManager(sender.nc)).streams.info(OUTBOX_STREAM);
    expect(local.state.messages).toBe(20 + OFFLINE);
    expect(handled.length).toBe(20);
    const restartedAt = Date.now();
    await fed.startHub();
    await until(() => handled.length >= 20 + OFFLINE, 90_000, 'the offline backlog to arrive');
    await new Promise((r) => setTimeout(r, 1_000));

    const expected = [...sent].sort((a, b) => a.seq - b.seq).map((s) => s.id);
    expect(handled.length).toBe(expected.length);
    expect(handled, 'delivered in the order the agency sent them').toEqual(expected);
    expect([...counts.values()].filter((c) => c !== 1), 'none handled twice').toEqual([]);
    // Original envelopes: signed while the hub was down, verified by the receiver after it came back.
    const offline = expected.slice(20);
    expect(offline.every((k) => createdAt.get(k)! < restartedAt)).toBe(true);
    expect(receiver.stats.rejected).toEqual({});
    expect(leaf.forwarder.stats.forwarded).toBe(20 + OFFLINE);
    expect(leaf.forwarder.stats.refused).toBe(0);
  }, 180_000);

  it(`the hub stopped again while the leaf forwards a backlog of ${MID} (one sent by a process started offline): still all delivered, in order, none twice`, async () => {
    await fed.stopHub();
    await until(() => !leaf.forwarder.stats.online, 10_000, 'the forwarder to notice the hub is gone');
    await sendInOrder(MID, 20 + OFFLINE);
    // A process started while the hub is down: it starts from the directory an earlier connection cached (verified
    // against the root again), and its send goes to the outbox behind the others.
    const cache = leafPaths(fed.agencyDirs[SENDER]!).directoryFile;
    const good = await readFile(cache, 'utf8');
    await writeFile(cache, `${good.trim().slice(0, -4)}AAAA\n`);
    const refused = await connectViaLeaf({ agencyDir: fed.agencyDirs[SENDER]!, catalog: fed.catalog }).then(
      async (c) => (await c.close(), 'connected'),
      (err: unknown) => (err as { code?: string }).code,
    );
    expect(refused, 'a cached directory that does not verify is refused').toBe('ERR_DIRECTORY_INVALID');
    await writeFile(cache, good);
    const late = await connectViaLeaf({ agencyDir: fed.agencyDirs[SENDER]!, catalog: fed.catalog });
    try {
      const r = await late.send(TYPE, report(30_000), { to: RECEIVER });
      expect(r.copies[0]!.stream).toBe(OUTBOX_STREAM);
      sent.push({ id: `${SENDER} ${r.id}`, seq: r.copies[0]!.seq });
    } finally {
      await late.close();
    }
    const before = handled.length;
    // The forwarder reaches the hub as soon as its nats-server answers, before the control plane is attached.
    // The cut below may come while the control plane attaches: that start then fails, handled here at once (a rejection
    // left unhandled until later is reported by vitest as an error of the run).
    const restarting = fed.startHub().catch(() => undefined);
    // Cut the link again in the middle of the backlog: acknowledgements in flight are lost.
    await until(() => leaf.forwarder.stats.forwarded >= 20 + OFFLINE + 100, 60_000, 'the forwarder to be mid-backlog');
    await fed.cutHub();
    const cutAt = leaf.forwarder.stats.forwarded;
    await restarting;
    await fed.startHub();
    await until(() => handled.length >= before + MID + LATE, 90_000, 'the rest of the backlog to arrive');
    await new Promise((r) => setTimeout(r, 1_000));
    const expected = [...sent].sort((a, b) => a.seq - b.seq).map((s) => s.id);
    expect(cutAt).toBeLessThan(20 + OFFLINE + MID + LATE);
    // The leaf's guarantee: the exchange stored the copies in the order the agency sent them.
    expect([...handled].sort((a, b) => streamSeq.get(a)! - streamSeq.get(b)!), 'stored in the order the agency sent them').toEqual(expected);
    // At the handler, in that order too: copies the receiver's hub lost in transit when it was cut come back after their
    // ack wait (delivery count > 1); the receiver holds the copies after them until they did (order-barrier.ts).
    expect(handled, 'handled in the order the agency sent them').toEqual(expected);
    expect([...counts.values()].filter((c) => c !== 1), 'none handled twice').toEqual([]);
    console.info(`[leaf-offline] hub cut mid-backlog: ${redelivered.size} copies came back after their ack wait`);
    // Copies the hub stored just before the cut, whose acknowledgements died with it, were sent again and came back
    // `duplicate` (same Nats-Msg-Id): each copy was stored once, counted either way.
    const fs = leaf.forwarder.stats;
    expect(fs.forwarded, 'stored at most once each').toBeLessThanOrEqual(20 + OFFLINE + MID + LATE);
    expect(fs.forwarded + fs.duplicates, 'every copy acknowledged by the hub').toBeGreaterThanOrEqual(20 + OFFLINE + MID + LATE);
    expect(fs.refused).toBe(0);
    expect(receiver.stats.rejected).toEqual({});
  }, 180_000);

  it('a forwarder that lost its cursor sends everything again: the exchange drops each copy as a duplicate (same Nats-Msg-Id)', async () => {
    await leaf.forwarder.stop();
    local = await connect({ servers: leaf.url });
    await (await ForwarderCursor.open(local)).set(1);
    const identity = await loadAgencyDir(fed.agencyDirs[SENDER]!);
    forwarder = await Forwarder.start({ agencyId: SENDER, local, servers: [fed.url], creds: identity.creds, ca: identity.ca, retryMs: 250 });
    expect(await forwarder.drained(60_000)).toBe(true);
    expect(forwarder.stats.duplicates).toBe(20 + OFFLINE + MID + LATE);
    expect(forwarder.stats.forwarded).toBe(0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(handled.length).toBe(20 + OFFLINE + MID + LATE);
  }, 90_000);

  it('forging a sender through the outbox: the exchange refuses the planted copy, the forwarder sets it aside and goes on', async () => {
    // The leaf is the agency's own machine: it can make its outbox capture another agency's subjects.
    const jsm = await jetstreamManager(sender.nc);
    const forgedSubject = `liaison.v1.personal.cooperation.${TYPE}.${VICTIM}.${RECEIVER}`;
    const info = await jsm.streams.info(OUTBOX_STREAM);
    await jsm.streams.update(OUTBOX_STREAM, { ...info.config, subjects: [...outboxSubjects(SENDER), forgedSubject] });
    const sealed = sender.seal(TYPE, report(9_999), { to: RECEIVER });
    const copy = sealed.copies[0]!;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
    const planted = await jetstream(sender.nc).publish(forgedSubject, copy.data, { headers: h });
    expect(planted.stream).toBe(OUTBOX_STREAM);
    const after = await sender.send(TYPE, report(10_000), { to: RECEIVER });
    await until(() => handled.includes(`${SENDER} ${after.id}`), 20_000, 'the send after the planted copy');
    expect(forwarder.stats.refused).toBe(1);
    const admin = await jetstreamManager(fed.exchange.admin);
    expect(await admin.streams.getMessage(streamName('cooperation'), { last_by_subj: forgedSubject })).toBeNull();
    expect(handled.some((k) => k.startsWith(`${VICTIM} `))).toBe(false);
    await jsm.streams.update(OUTBOX_STREAM, { ...info.config, subjects: outboxSubjects(SENDER) });
  }, 60_000);

  it("the CLI's agency commands go through the running leaf (connectAs), and to the exchange once the leaf's process is gone", async () => {
    const args = { values: { as: fed.agencyDirs[SENDER]! }, positionals: [] };
    const viaLeaf = await connectAs(args);
    try {
      expect(viaLeaf.nc.info?.server_name).toBe(`leaf-${SENDER}`);
    } finally {
      await viaLeaf.close();
    }
    const stateFile = leafPaths(fed.agencyDirs[SENDER]!).stateFile;
    const state = await readFile(stateFile, 'utf8');
    const gone = spawnSync('true').pid;
    await writeFile(stateFile, JSON.stringify({ ...JSON.parse(state), pid: gone }));
    try {
      const direct = await connectAs(args);
      try {
        expect(direct.nc.info?.server_name).toBe('liaison-exchange');
      } finally {
        await direct.close();
      }
    } finally {
      await writeFile(stateFile, state);
    }
  }, 30_000);

  describe('a rogue agency through a leaf of its own making: the hub still refuses what the policy denies', () => {
    let rogueLeaf: NatsProcess;
    let rogue: NatsConnection;
    /** Every subject the exchange account saw on liaison.> (where an agency's publishes land). */
    const atExchange: string[] = [];
    /** Every subject the rogue's catch-all subscription got through the leaf. */
    const atRogue: string[] = [];
    const ownConsumer = () => compileConsumers(fed.exchange.policy, typeCatalogOf(fed.catalog)).find((c) => c.agency === ROGUE)!;

    beforeAll(async () => {
      const dir = join(fed.work, 'rogue-leaf');
      await mkdir(dir, { recursive: true });
      const port = await freePort();
      const ap = agencyPaths(fed.agencyDirs[ROGUE]!);
      // The attacker's own config: the global account, no local permissions, no outbox, no deny list.
      const conf = [
        `listen: "127.0.0.1:${port}"`,
        'max_control_line: 65536',
        `leafnodes { reconnect: 1, remotes: [ { url: ${JSON.stringify(fed.leafUrl)}, credentials: ${JSON.stringify(ap.natsCreds)}, tls: { ca_file: ${JSON.stringify(ap.caCert)} } } ] }`,
        '',
      ].join('\n');
      await writeFile(join(dir, 'leaf.conf'), conf);
      rogueLeaf = await spawnNatsServer({ configFile: join(dir, 'leaf.conf'), host: '127.0.0.1', port });
      rogue = await connect({ servers: rogueLeaf.url, inboxPrefix: inboxPrefix(ROGUE) });
      fed.exchange.admin.subscribe('liaison.>', { callback: (_e, m) => void atExchange.push(m.subject) });
      rogue.subscribe('>', { callback: (_e, m) => void atRogue.push(m.subject) });
      const c = ownConsumer();
      // The link is up once the rogue's own consumer answers through it.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await rogue.request(agencyJsApi(`CONSUMER.INFO.${c.stream}.${c.name}`), '', { timeout: 1_000 }).then(
          (m) => !('error' in (m.json() as object)),
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error('the rogue leaf never linked to the hub');
        await new Promise((r) => setTimeout(r, 250));
      }
    }, 90_000);

    afterAll(async () => {
      await rogue?.close();
      await rogueLeaf?.stop();
    });

    it('publishing as another agency, pushing a directory or writing another quarantine never reaches the exchange (control: its own quarantine does)', async () => {
      rogue.publish(`liaison.v1.quarantine.${ROGUE}`, new Uint8Array([1]));
      await rogue.flush();
      await until(() => atExchange.includes(`liaison.v1.quarantine.${ROGUE}`), 5_000, 'the control publish to reach the exchange');
      const forbidden = [
        `liaison.v1.personal.cooperation.${TYPE}.${VICTIM}.${RECEIVER}`,
        `liaison.v1.operational.documents.DocumentReport.${VICTIM}.all`,
        `liaison.v1.personal.cooperation.${TYPE}.${ROGUE}.${RECEIVER}`,
        'liaison.v1.trust.directory',
        `liaison.v1.quarantine.${VICTIM}`,
      ];
      for (const subject of forbidden) rogue.publish(subject, new Uint8Array([1, 2, 3]));
      await rogue.flush();
      await new Promise((r) => setTimeout(r, 1_500));
      expect(atExchange.filter((s) => forbidden.includes(s))).toEqual([]);
    }, 20_000);

    it("the hub's JetStream API answers nothing but the agency's own consumer through the leaf, and no stream changes", async () => {
      const admin = await jetstreamManager(fed.exchange.admin);
      const stream = streamName('cooperation');
      const before = (await admin.streams.info(stream)).state.messages;
      expect(before).toBeGreaterThan(0);
      const victimConsumer = consumerName(RECEIVER, TYPE, 'direct');
      const answered: string[] = [];
      for (const api of ['$JS.API', 'LIAISON.API']) {
        for (const rest of ['INFO', 'STREAM.LIST', `STREAM.INFO.${stream}`, `STREAM.PURGE.${stream}`, `STREAM.DELETE.${stream}`, `STREAM.MSG.GET.${stream}`, `CONSUMER.CREATE.${stream}`, `CONSUMER.LIST.${stream}`, `CONSUMER.MSG.NEXT.${stream}.${victimConsumer}`, `CONSUMER.DELETE.${stream}.${ownConsumer().name}`]) {
          const subject = `${api}.${rest}`;
          const got = await rogue.request(subject, '{}', { timeout: 500 }).then(
            (m) => (m.data.length > 0 && !('error' in (m.json() as object)) ? subject : undefined),
            () => undefined,
          );
          if (got) answered.push(got);
        }
      }
      expect(answered).toEqual([]);
      const after = await admin.streams.info(stream);
      expect(after.state.messages).toBeGreaterThanOrEqual(before);
      expect((await admin.consumers.info(ownConsumer().stream, ownConsumer().name)).name).toBe(ownConsumer().name);
    }, 60_000);

    it("a catch-all subscription through the leaf gets none of another agency's traffic (control: its own replies arrive)", async () => {
      // From here on (the rogue's own earlier publishes come back to its own catch-all on its own server).
      atRogue.length = 0;
      const c = ownConsumer();
      await rogue.request(agencyJsApi(`CONSUMER.INFO.${c.stream}.${c.name}`), '', { timeout: 2_000 });
      const r = await sender.send(TYPE, report(20_000), { to: RECEIVER });
      await until(() => handled.includes(`${SENDER} ${r.id}`), 20_000, 'the legitimate send');
      await new Promise((res) => setTimeout(res, 500));
      expect(atRogue.some((s) => s.startsWith(`${inboxPrefix(ROGUE)}.`))).toBe(true);
      const foreign = atRogue.filter((s) => /^liaison\.v1\.(public|operational|personal|special)\./.test(s) || (s.startsWith('_INBOX') && !s.startsWith(`${inboxPrefix(ROGUE)}.`)));
      expect(foreign, JSON.stringify(atRogue.slice(0, 40))).toEqual([]);
    }, 30_000);
  });
});
