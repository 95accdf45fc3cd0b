/**
 * A client that was disconnected when the exchange pushed a new directory (its node died; the link dropped) fetches
 * the directory again once it reconnects and adopts it: a push is not delivered later, and an agency that kept its old
 * NATS user JWT past a policy apply's grace would be cut and refused for good (issue 16, a policy apply while a
 * cluster node is down). A plain TCP relay stands between the client and nats-server so the test can cut the link.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustPaths, writeDirectory } from '../services/trust/index.ts';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';
import { until } from './support/workflows.ts';

/** A TCP relay to `target` whose link can be cut (open sockets destroyed, new ones refused) and restored. */
async function relay(target: URL): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = createConnection(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).on('close', () => client.destroy());
    upstream.pipe(client).on('close', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    cut() {
      refusing = true;
      for (const s of open) s.destroy();
    },
    restore() {
      refusing = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

const issuedAtOf = (jws: string) => (JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as { issuedAt: string }).issuedAt;

describe('a directory pushed while a client is disconnected', () => {
  let fed: TestFederation;
  let link: Awaited<ReturnType<typeof relay>>;
  let client: LiaisonClient;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-coast-guard'], name: 'directory-catch-up' });
    link = await relay(new URL(fed.server.url));
    client = await fed.connect('xa-coast-guard', { servers: [link.url] });
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
    await link?.close();
  });

  it('is fetched and adopted when the client reconnects (no push, no status ping)', async () => {
    const before = client.directoryIssuedAt;
    const statuses: string[] = [];
    void (async () => {
      for await (const st of client.nc.status()) statuses.push(st.type);
    })();
    link.cut();
    await until(() => statuses.includes('disconnect'), 10_000, 'the client to see the link cut');
    // The exchange writes and pushes a newer directory while the client cannot hear it.
    await new Promise((r) => setTimeout(r, 1_100));
    await writeDirectory(fed.trustDir);
    const next = issuedAtOf((await readFile(trustPaths(fed.trustDir).directory, 'utf8')).trim());
    expect(Date.parse(next)).toBeGreaterThan(Date.parse(before));
    expect(await fed.exchange.directory.refresh()).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses).not.toContain('reconnect');
    expect(client.directoryIssuedAt).toBe(before);
    link.restore();
    await until(() => statuses.includes('reconnect'), 15_000, 'the client to reconnect');
    await until(() => client.directoryIssuedAt === next, 5_000, 'the client to adopt the directory pushed while it was away');
  }, 60_000);
});
