/**
 * A link between NATS clients and nats-server that loses one pull's copies while every connection stays open (the
 * sibling of cut-link.ts, which loses a batch by closing the connection). It takes TLS off both sides (the client gets
 * the server's own certificate, the server is reached as a TLS client trusting the federation's CA), so it reads whole
 * protocol frames: once armed, the next JetStream copy (a message with a `$JS.ACK` reply) names a pull's inbox (the
 * client's subscription it is delivered to), and from then on the link drops
 *  - `'pull'`: every frame to that inbox — its copies, heartbeats and end — as when they reach a pull the client
 *    already gave up on (the client then gives it up: its heartbeats are missed);
 *  - `'copies'`: only the copies to it — its heartbeats and its end (the server's 408 saying how many of the batch
 *    were left) pass, as when the copies' frames were lost on the way and the pull ended normally.
 * JetStream counts the lost copies delivered and sends them again only after the consumer's ack wait; nothing else
 * is touched. A control, `'idle'`: the next pull whose heartbeat comes through (one waiting for copies) is picked
 * instead, and every frame to it dropped — the client gives it up with nothing lost if nothing was sent meanwhile.
 */
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { trustPaths } from '../../services/sdk/trust/paths.ts';
import { FrameSplitter, type Frame } from './nats-frames.ts';

/** What an armed link drops of the pull it picks: all its frames, or only its copies. */
export type DropMode = 'pull' | 'copies' | 'idle';

/** A running link: connect clients to `url`. */
export interface DropLink {
  url: string;
  /** Pick the next pull (of `consumer`, when named) whose copies come through and drop its frames (`mode`). */
  armDrop(mode: DropMode, consumer?: string): void;
  /** Resolves with that pull's subscription id once its first copy (`'idle'`: heartbeat) was dropped. */
  dropping: Promise<string>;
  /** Resolves once the server ended that pull (its 408/409 status came, passed on or not; it comes only while the client still listens to that pull). */
  pullEnded: Promise<void>;
  /** How many copies were dropped so far. */
  droppedCopies(): number;
  /** How many heartbeats (to waiting pulls) the link passed on so far. */
  passedHeartbeats(): number;
  /** How many connections closed other than at stop (0: the clients stayed connected). */
  closedConnections(): number;
  stop(): Promise<void>;
}

/** What the link decides on each frame from the server. */
interface DropState {
  mode?: DropMode;
  /** Only a pull of this consumer is picked (any when absent). */
  consumer?: string;
  /** The pull whose frames are dropped: its connection through the link, and its subscription id there. */
  inbox?: { conn: Pulls; sid: string };
  copies: number;
  heartbeats: number;
  onFirst: (inbox: string) => void;
  onEnd: () => void;
}

/** What one connection's client asked for: which consumer each of its pull inboxes (by subscription id) pulls from. */
interface Pulls {
  /** Inbox subject → subscription id (from the client's SUB). */
  subs: Map<string, string>;
  /** Subscription id → consumer name (from the pull request the client published with that inbox as reply). */
  consumerOf: Map<string, string>;
}

/** Start a link in front of `target` (`nats://host:port`) of the federation whose trust dir is `trustDir`. */
export async function startDropLink(target: string, trustDir: string): Promise<DropLink> {
  const paths = trustPaths(trustDir);
  const [cert, key, ca] = await Promise.all([readFile(paths.serverCert), readFile(paths.serverKey), readFile(paths.caCert)]);
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let stopping = false;
  let closed = 0;
  let resolveFirst: (inbox: string) => void = () => undefined;
  let resolveEnd: () => void = () => undefined;
  const dropping = new Promise<string>((r) => (resolveFirst = r));
  const pullEnded = new Promise<void>((r) => (resolveEnd = r));
  const state: DropState = { copies: 0, heartbeats: 0, onFirst: (inbox) => resolveFirst(inbox), onEnd: () => resolveEnd() };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    const track = (s: Socket) => {
      sockets.add(s);
      const end = () => {
        if (!stopping && sockets.has(s)) closed++;
        for (const t of [client, upstream]) {
          t.destroy();
          sockets.delete(t);
        }
      };
      s.on('close', end).on('error', end);
    };
    track(client);
    track(upstream);
    // The server's INFO comes in plaintext; the client upgrades to TLS when it says so (nats-server 2.9).
    const info = new FrameSplitter();
    const onInfo = (d: Buffer) => {
      const frame = info.push(d)[0];
      if (!frame) return;
      upstream.off('data', onInfo);
      client.write(frame.bytes);
      if (!/"tls_required"\s*:\s*true/.test(frame.bytes.toString('latin1'))) return relay(client, upstream, state);
      const clientSide = new TLSSocket(client, { isServer: true, cert, key });
      const serverSide = tlsConnect({ socket: upstream, ca, host: hostname });
      track(clientSide);
      track(serverSide);
      relay(clientSide, serverSide, state);
    };
    upstream.on('data', onInfo);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the link has no port');
  return {
    url: `nats://127.0.0.1:${address.port}`,
    armDrop: (mode, consumer) => {
      state.mode = mode;
      state.consumer = consumer;
    },
    dropping,
    pullEnded,
    droppedCopies: () => state.copies,
    passedHeartbeats: () => state.heartbeats,
    closedConnections: () => closed,
    stop: async () => {
      stopping = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Pass the client's bytes up unchanged (reading which consumer each pull inbox pulls from), and the server's frame
 * by frame, leaving out those the link drops.
 */
function relay(client: Socket, upstream: Socket, state: DropState): void {
  const conn: Pulls = { subs: new Map(), consumerOf: new Map() };
  const asked = new FrameSplitter();
  client.on('data', (d: Buffer) => {
    upstream.write(d);
    for (const f of asked.push(d)) learn(f, conn);
  });
  const frames = new FrameSplitter();
  upstream.on('data', (d: Buffer) => {
    for (const f of frames.push(d)) if (!dropped(f, conn, state)) client.write(f.bytes);
  });
}

/** Note a client's subscription, or the consumer a pull request asks (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`). */
function learn(f: Frame, conn: Pulls): void {
  if (f.op === 'SUB' && f.subject && f.sid) conn.subs.set(f.subject, f.sid);
  if ((f.op === 'PUB' || f.op === 'HPUB') && f.reply && f.subject?.includes('.CONSUMER.MSG.NEXT.')) {
    const sid = conn.subs.get(f.reply);
    if (sid) conn.consumerOf.set(sid, f.subject.slice(f.subject.lastIndexOf('.') + 1));
  }
}

/** Whether the link drops this frame from the server (and what it learns from it). */
function dropped(f: Frame, conn: Pulls, state: DropState): boolean {
  const copy = f.reply?.startsWith('$JS.ACK.') === true;
  const heartbeat = !copy && /^NATS\/1\.0 100/m.test(f.bytes.toString('latin1'));
  const wanted = state.consumer === undefined || (f.sid !== undefined && conn.consumerOf.get(f.sid) === state.consumer);
  if (state.mode && !state.inbox && f.sid && wanted && (state.mode === 'idle' ? heartbeat : copy)) {
    state.inbox = { conn, sid: f.sid };
    state.onFirst(f.sid);
  }
  if (state.inbox === undefined || state.inbox.conn !== conn || f.sid !== state.inbox.sid) {
    if (heartbeat) state.heartbeats++;
    return false;
  }
  if (copy) {
    state.copies++;
    return true;
  }
  // A status to the pull: "NATS/1.0 100" is a heartbeat; 408/409 end it.
  if (/^NATS\/1\.0 40[89]/m.test(f.bytes.toString('latin1'))) state.onEnd();
  return state.mode !== 'copies';
}
