/**
 * A TCP proxy between one NATS client and nats-server that reads the plain-text NATS protocol passing
 * through it, both ways, and numbers every operation in the order the proxy forwarded it. A client can
 * only react to what reached it, so the numbers order cause and effect: e.g. a PubAck (server → client)
 * numbered before an ack (client → server) reached the client before it sent the ack.
 *
 * Over TLS (as every test federation runs), the tap ends TLS on both sides: it passes the server's
 * plain INFO on, then answers the client's handshake with the server's own certificate and key and
 * opens its own TLS session to the server, reading the protocol in between.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';

/** One protocol operation seen by the tap. */
export interface TapOp {
  /** Position in the order the proxy forwarded operations (both directions share it). */
  order: number;
  from: 'client' | 'server';
  /** PUB, HPUB (client) or MSG, HMSG (server); other operations are not recorded. */
  op: string;
  subject: string;
  reply?: string;
  /** The payload after any headers, as latin1 text. */
  payload: string;
}

/** A running tap: connect clients to `url`. */
export interface NatsTap {
  url: string;
  ops: TapOp[];
  /** The next order number (a mark for "everything after this moment"). */
  now(): number;
  stop(): Promise<void>;
}

/** Incremental parser of one direction's byte stream. */
function parser(from: TapOp['from'], emit: (o: Omit<TapOp, 'order'>) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = buf.subarray(0, eol).toString('latin1');
      const [op = '', ...args] = line.split(' ').filter((x) => x !== '');
      const upper = op.toUpperCase();
      const hasHeaders = upper === 'HPUB' || upper === 'HMSG';
      if (!['PUB', 'HPUB', 'MSG', 'HMSG'].includes(upper)) {
        buf = buf.subarray(eol + 2);
        continue;
      }
      const total = Number(args.at(-1));
      const headerBytes = hasHeaders ? Number(args.at(-2)) : 0;
      if (buf.length < eol + 2 + total + 2) return; // payload not all here yet
      const body = buf.subarray(eol + 2 + headerBytes, eol + 2 + total).toString('latin1');
      // PUB subj [reply] n · HPUB subj [reply] h n · MSG subj sid [reply] n · HMSG subj sid [reply] h n
      const fixed = (upper.startsWith('H') ? 2 : 1) + (upper.endsWith('MSG') ? 2 : 1);
      const reply = args.length > fixed ? args[upper.endsWith('MSG') ? 2 : 1] : undefined;
      emit({ from, op: upper, subject: args[0] ?? '', reply, payload: body });
      buf = buf.subarray(eol + 2 + total + 2);
    }
  };
}

/** The server's certificate and key (PEM) to answer clients with, and the CA to check the server against. */
export interface TapTls {
  cert: string;
  key: string;
  ca: string;
}

/** Both sockets of one tapped connection, plain or — after the INFO — TLS. */
async function sides(client: Socket, upstream: Socket, tls: TapTls | undefined): Promise<{ client: Socket; upstream: Socket }> {
  if (!tls) return { client, upstream };
  const info = await new Promise<Buffer>((resolve) => upstream.once('data', resolve));
  client.write(info); // plain INFO (tls_required): the client starts its handshake next
  const secureClient = new TLSSocket(client, { isServer: true, cert: tls.cert, key: tls.key });
  const secureUpstream = tlsConnect({ socket: upstream, ca: tls.ca, servername: 'localhost', checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => secureUpstream.once('secureConnect', resolve).once('error', reject));
  return { client: secureClient, upstream: secureUpstream };
}

/** Start a tap in front of `target` (`nats://host:port`), on a free loopback port. */
export async function startNatsTap(target: string, tls?: TapTls): Promise<NatsTap> {
  const { hostname, port } = new URL(target);
  const ops: TapOp[] = [];
  let order = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer(async (plainClient) => {
    const plainUpstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(plainClient).add(plainUpstream);
    let client: Socket;
    let upstream: Socket;
    try {
      ({ client, upstream } = await sides(plainClient, plainUpstream, tls));
    } catch {
      plainClient.destroy();
      plainUpstream.destroy();
      return;
    }
    sockets.add(client).add(upstream);
    const record = (o: Omit<TapOp, 'order'>) => ops.push({ ...o, order: order++ });
    const fromClient = parser('client', record);
    const fromServer = parser('server', record);
    client.on('data', (d: Buffer) => {
      fromClient(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      fromServer(d);
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the tap has no port');
  return {
    url: `nats://127.0.0.1:${address.port}`,
    ops,
    now: () => order,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
