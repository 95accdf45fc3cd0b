import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachExchange, type AttachedExchange } from '../../services/exchange/exchange.ts';
import { enrolFromPolicy } from '../../services/exchange/admin.ts';
import { LiaisonClient, type ConnectOptions } from '../../services/sdk/client/client.ts';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { loadCatalog, type Catalog } from '../../services/sdk/schema/index.ts';
import { ensureExchangeTls, initFederation, renderServerConfig, trustPaths } from '../../services/trust/index.ts';
import { startNatsServer, type TestNatsServer } from '../fixture/nats-server.ts';

/** The example policy the demo uses. */
export const EXAMPLE_POLICY = join(import.meta.dirname, '../../deploy/policies/federation.yaml');

/** Where a container-run nats-server finds the exchange's certificate and key (copied in by the fixture). */
export const CONTAINER_TLS = { certFile: '/etc/nats/tls/server.pem', keyFile: '/etc/nats/tls/server-key.pem' };

/** The TLS files a container-run server needs, from the trust dir to {@link CONTAINER_TLS}. */
export function containerTlsFiles(trustDir: string): { source: string; target: string }[] {
  const p = trustPaths(trustDir);
  return [
    { source: p.serverCert, target: CONTAINER_TLS.certFile },
    { source: p.serverKey, target: CONTAINER_TLS.keyFile },
  ];
}

/** A throwaway federation on a nats-server started for the test. */
export interface TestFederation {
  trustDir: string;
  server: TestNatsServer;
  exchange: AttachedExchange;
  catalog: Catalog;
  agencyDirs: Record<string, string>;
  /** The `tls` connect option of a raw nats.js client: the federation CA the server's certificate chains to. */
  tls: { ca: string };
  /** Connect an enrolled agency through the SDK. */
  connect(agency: string, opts?: Partial<ConnectOptions>): Promise<LiaisonClient>;
  /** Enrol one more agency named by the policy. */
  enrol(agency: string): Promise<string>;
  /** Enrol one more agency with a given credential lifetime. */
  enrolWith(agency: string, opts: { ttlSeconds?: number }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Create a federation in a temp dir from a policy (default: the example policy), start a nats-server
 * for it, enrol `agencies`, attach the exchange control plane (streams, consumers, directory).
 */
export async function createTestFederation(o: { agencies: string[]; policyFile?: string; policyText?: string; name?: string }): Promise<TestFederation> {
  const work = await mkdtemp(join(tmpdir(), 'liaison-fed-'));
  const trustDir = join(work, 'trust');
  const catalog = loadCatalog();
  const tc = typeCatalogOf(catalog);
  const policyText = o.policyText ?? (await readFile(o.policyFile ?? EXAMPLE_POLICY, 'utf8'));
  await initFederation({ dir: trustDir, policyText, federationName: o.name ?? 'test-federation' });
  // The whole suite runs over TLS: a server certificate from the federation's own CA, as `exchange up` issues it.
  const ca = (await ensureExchangeTls(trustDir)).toString();
  const server = await startNatsServer({
    name: o.name,
    config: (ctx) => renderServerConfig({ trustDir, host: ctx.host, port: ctx.port, storeDir: ctx.storeDir, tls: ctx.runtime === 'container' ? CONTAINER_TLS : true }),
    files: containerTlsFiles(trustDir),
  });
  const clients: LiaisonClient[] = [];
  const agencyDirs: Record<string, string> = {};
  const enrol = async (agency: string, ttlSeconds?: number) => {
    const out = join(work, 'agencies', agency);
    await enrolFromPolicy({ trustDir, agencyId: agency, out, catalog: tc, servers: [server.url], ttlSeconds });
    agencyDirs[agency] = out;
    return out;
  };
  try {
    for (const a of o.agencies) await enrol(a);
    const exchange = await attachExchange({ trustDir, url: server.url, catalog: tc });
    return {
      trustDir,
      server,
      exchange,
      catalog,
      agencyDirs,
      tls: { ca },
      enrol: async (agency) => {
        const dir = await enrol(agency);
        await exchange.directory.refresh();
        return dir;
      },
      enrolWith: async (agency, opts) => {
        const dir = await enrol(agency, opts.ttlSeconds);
        await exchange.directory.refresh();
        return dir;
      },
      async connect(agency, opts = {}) {
        const c = await LiaisonClient.connect({ agencyDir: agencyDirs[agency], catalog, ...opts });
        clients.push(c);
        return c;
      },
      async stop() {
        await Promise.allSettled(clients.map((c) => c.close()));
        await exchange.stop();
        await server.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
