/**
 * A throwaway federation on a three-node cluster (test/fixture/nats-cluster.ts): the operator-mode config of
 * services/exchange/exchange-cluster.ts on every node (TLS for clients and between routes), agencies enrolled with
 * every node's URL, the exchange control plane attached to all of them at replica count 3.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachExchange, type AttachedExchange } from '../../services/exchange/exchange.ts';
import { localNodeConfig } from '../../services/exchange/exchange-cluster.ts';
import { enrolFromPolicy } from '../../services/exchange/admin.ts';
import { clusterReplicas } from '../../services/exchange/replicas.ts';
import { LiaisonClient, type ConnectOptions } from '../../services/sdk/client/client.ts';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { loadCatalog, type Catalog } from '../../services/sdk/schema/index.ts';
import { ensureExchangeTls, initFederation } from '../../services/trust/index.ts';
import { startTestNatsCluster, type TestNatsCluster } from '../fixture/nats-cluster.ts';
import { EXAMPLE_POLICY } from './federation.ts';

/** A federation whose exchange is a cluster. */
export interface ClusterFederation {
  trustDir: string;
  cluster: TestNatsCluster;
  exchange: AttachedExchange;
  catalog: Catalog;
  agencyDirs: Record<string, string>;
  /** The federation CA, for raw nats.js clients. */
  tls: { ca: string };
  /** Connect an enrolled agency (every node's URL, from its agency.json). */
  connect(agency: string, opts?: Partial<ConnectOptions>): Promise<LiaisonClient>;
  stop(): Promise<void>;
}

/** Create a federation in a temp dir on a fresh `nodes`-node cluster (default 3), enrol `agencies`, attach the exchange. */
export async function createClusterFederation(o: { agencies: string[]; name?: string; nodes?: number; policyText?: string; audit?: false }): Promise<ClusterFederation> {
  const work = await mkdtemp(join(tmpdir(), 'liaison-cfed-'));
  const trustDir = join(work, 'trust');
  const catalog = loadCatalog();
  const tc = typeCatalogOf(catalog);
  await initFederation({ dir: trustDir, policyText: o.policyText ?? (await readFile(EXAMPLE_POLICY, 'utf8')), federationName: o.name ?? 'cluster-federation' });
  const ca = (await ensureExchangeTls(trustDir)).toString();
  const nodes = o.nodes ?? 3;
  const cluster = await startTestNatsCluster({ name: o.name, nodes, config: (node) => localNodeConfig({ trustDir }, node) });
  const clients: LiaisonClient[] = [];
  const agencyDirs: Record<string, string> = {};
  try {
    for (const a of o.agencies) {
      agencyDirs[a] = join(work, 'agencies', a);
      await enrolFromPolicy({ trustDir, agencyId: a, out: agencyDirs[a], catalog: tc, servers: cluster.urls });
    }
    const exchange = await attachExchange({ trustDir, url: cluster.urls, catalog: tc, replicas: clusterReplicas(nodes), ...(o.audit === false ? { audit: false as const } : {}) });
    return {
      trustDir,
      cluster,
      exchange,
      catalog,
      agencyDirs,
      tls: { ca },
      async connect(agency, opts = {}) {
        const c = await LiaisonClient.connect({ agencyDir: agencyDirs[agency]!, catalog, ...opts });
        clients.push(c);
        return c;
      },
      async stop() {
        await Promise.allSettled(clients.map((c) => c.close()));
        await exchange.stop().catch(() => undefined);
        await cluster.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The example policy with only `agencies` (and no registry replicas): on a cluster every durable consumer is a RAFT
 * group of its own, so a test federation provisions only those it runs.
 */
export async function examplePolicyFor(agencies: readonly string[]): Promise<string> {
  const text = await readFile(EXAMPLE_POLICY, 'utf8');
  const [head, listed] = text.split(/^agencies:\n/m) as [string, string];
  const keep = new Set(agencies);
  const lines = listed.split('\n').filter((l) => keep.has(l.trim().split(':')[0]!));
  return `${head}agencies:\n${lines.map((l) => l.replace(/, replicas: \d+/, '')).join('\n')}\n`;
}
