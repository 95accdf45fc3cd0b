/**
 * A plain TCP link between NATS clients and nats-server (TLS passes through it untouched) that a test can break
 * in one precise way: once armed, the next burst the server sends of at least `burstBytes` in one read — a pull
 * request's batch of copies, not a small reply — is dropped and every connection through the link is closed.
 * The copies in that batch are lost in transit: JetStream counts them delivered and sends them again only after
 * the consumer's ack wait. Clients reconnect through the link and pass freely again.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A running link: connect clients to `url`. */
export interface CutLink {
  url: string;
  /** Drop the next server burst of at least `burstBytes` and close every connection. */
  armCut(burstBytes: number): void;
  /** Resolves once an armed cut happened; how many bytes it dropped. */
  cut: Promise<number>;
  /** While on, every new connection is closed at once (a client stays disconnected); off lets them through again. */
  refuse(on: boolean): void;
  /** How many connections were refused so far. */
  refused(): number;
  stop(): Promise<void>;
}

/** Start a link in front of `target` (`nats://host:port`) on a free loopback port. */
export async function startCutLink(target: string): Promise<CutLink> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let armed = 0;
  let refusing = false;
  let refused = 0;
  let resolveCut: (bytes: number) => void = () => undefined;
  const cut = new Promise<number>((r) => (resolveCut = r));
  const closeAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (armed > 0 && d.length >= armed) {
        armed = 0;
        closeAll();
        resolveCut(d.length);
        return;
      }
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the link has no port');
  return {
    url: `nats://127.0.0.1:${address.port}`,
    armCut: (burstBytes) => void (armed = burstBytes),
    cut,
    refuse: (on) => void (refusing = on),
    refused: () => refused,
    stop: async () => {
      closeAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
