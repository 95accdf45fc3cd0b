/**
 * A federation whose exchange also accepts leaf nodes, with the hub as a process the test can stop and start again
 * on the same port and store (test/leaf-offline.test.ts).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachExchange, type AttachedExchange } from '../../services/exchange/exchange.ts';
import { enrolFromPolicy } from '../../services/exchange/admin.ts';
import { freePort, spawnNatsServer, type NatsProcess } from '../../services/exchange/nats-process.ts';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { loadCatalog, type Catalog } from '../../services/sdk/schema/index.ts';
import { ensureExchangeTls, initFederation, renderServerConfig } from '../../services/trust/index.ts';
import { EXAMPLE_POLICY } from './federation.ts';

/** A hub (exchange) with a TLS leafnode port. */
export interface EdgeFederation {
  work: string;
  trustDir: string;
  catalog: Catalog;
  /** The exchange's client URL. */
  url: string;
  /** The exchange's leafnode URL (TLS). */
  leafUrl: string;
  agencyDirs: Record<string, string>;
  exchange: AttachedExchange;
  hub: NatsProcess;
  /** Stop the control plane and the hub's nats-server (SIGTERM: what it stored stays). */
  stopHub(): Promise<void>;
  /** Stop the hub's nats-server at once (SIGTERM: what it stored stays); resolves once it exited, the control plane is let go meanwhile. */
  cutHub(): Promise<void>;
  /** Start the hub again on the same port, config and store, and attach the control plane; resolves with when (performance.now()) its nats-server answered. */
  startHub(): Promise<number>;
  stop(): Promise<void>;
}

/** Create the federation, start the hub with a leafnode port, enrol `agencies`, attach the exchange. */
export async function createEdgeFederation(o: { agencies: string[]; /** Default: the example policy. */ policyText?: string }): Promise<EdgeFederation> {
  const work = await mkdtemp(join(tmpdir(), 'liaison-edge-'));
  const trustDir = join(work, 'trust');
  const catalog = loadCatalog();
  const tc = typeCatalogOf(catalog);
  await initFederation({ dir: trustDir, policyText: o.policyText ?? (await readFile(EXAMPLE_POLICY, 'utf8')), federationName: 'edge' });
  await ensureExchangeTls(trustDir);
  const host = '127.0.0.1';
  const port = await freePort(host);
  const leafPort = await freePort(host);
  const configFile = join(work, 'hub.conf');
  await writeFile(configFile, renderServerConfig({ trustDir, host, port, storeDir: join(work, 'hub-store'), tls: true, leafnodes: { port: leafPort } }));
  const url = `nats://${host}:${port}`;
  const agencyDirs: Record<string, string> = {};
  let hub = await spawnNatsServer({ configFile, host, port });
  try {
    for (const a of o.agencies) {
      agencyDirs[a] = join(work, 'agencies', a);
      await enrolFromPolicy({ trustDir, agencyId: a, out: agencyDirs[a]!, catalog: tc, servers: [url] });
    }
    const fed: EdgeFederation = {
      work,
      trustDir,
      catalog,
      url,
      leafUrl: `tls://${host}:${leafPort}`,
      agencyDirs,
      exchange: await attachExchange({ trustDir, url, catalog: tc, audit: false }),
      hub,
      async stopHub() {
        await fed.exchange.stop();
        await hub.stop();
      },
      async cutHub() {
        const stopping = hub.stop();
        // Its connection is going: stopping it only releases the process's handles.
        void fed.exchange.stop().catch(() => undefined);
        await stopping;
      },
      async startHub() {
        hub = await spawnNatsServer({ configFile, host, port });
        const ready = performance.now();
        fed.hub = hub;
        fed.exchange = await attachExchange({ trustDir, url, catalog: tc, audit: false });
        return ready;
      },
      async stop() {
        await fed.exchange.stop().catch(() => undefined);
        await hub.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
    return fed;
  } catch (err) {
    await hub.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
