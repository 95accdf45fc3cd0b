/**
 * A policy apply made while a node of a three-node exchange is down (issue 16): the apply completes on the two
 * survivors, and when the node returns it holds there too — the cut agency's old credentials are refused by that node,
 * the re-issued ones connect. Real nats-server processes (test/fixture/nats-cluster.ts), bounded in time.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyPolicy } from '../services/exchange/policy-apply.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { jwtOfCreds } from '../services/sdk/client/live-credentials.ts';
import { createClusterFederation, examplePolicyFor, type ClusterFederation } from './support/cluster-federation.ts';
import { RawAgency } from './support/violations.ts';

/** Cut by the apply: its role changes (border police → coast guard), so it loses rights. */
const SENDER = 'xa-border-police';
const AGENCIES = [SENDER, 'mac-centre', 'xb-police', 'xc-ncb', 'mac-cases', 'xa-coast-guard'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll a connection of `agencyDir`'s credentials to `url` for up to 30 s; the refusal's text, or undefined. */
async function refusedWithin(url: string, agencyDir: string, agency: string): Promise<{ refused?: string; ms: number }> {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    try {
      const raw = await RawAgency.connect(url, agencyDir, agency);
      await raw.close();
      await sleep(250);
    } catch (err) {
      return { refused: (err as Error).message, ms: Date.now() - t0 };
    }
  }
  return { ms: Date.now() - t0 };
}

describe('a policy apply made while a cluster node is down (issue 16)', () => {
  let fed: ClusterFederation;
  let work: string;
  let sender: Awaited<ReturnType<ClusterFederation['connect']>>;

  beforeAll(async () => {
    fed = await createClusterFederation({ agencies: AGENCIES, name: 'policy-apply-down', policyText: await examplePolicyFor(AGENCIES) });
    work = await mkdtemp(join(tmpdir(), 'liaison-cpa-'));
    // The cut agency runs an SDK: it adopts its re-issued credentials from the pushed directory and saves them.
    sender = await fed.connect(SENDER);
    await fed.connect('mac-centre');
  }, 240_000);
  afterAll(async () => {
    await fed?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);
  afterEach(async () => {
    for (const n of fed?.cluster.nodes ?? []) if (n.process === undefined) await fed.cluster.restart(n.index);
  }, 60_000);

  it("holds on that node when it returns (the cut agency's old credentials are refused there, the re-issued ones connect)", async () => {
    // The node the cut agency's SDK is connected to: it must also reconnect elsewhere and still learn the change.
    const index = fed.cluster.indexOf(sender.nc.info!.server_name);
    const node = fed.cluster.nodes[index - 1]!;
    // The sender's credentials before the change, kept aside (the apply re-issues them in its directory).
    const old = join(work, 'old-sender');
    await mkdir(old, { recursive: true });
    for (const f of ['nats.creds', 'ca.pem']) await copyFile(join(fed.agencyDirs[SENDER]!, f), join(old, f));
    const control = await RawAgency.connect(node.url, old, SENDER);
    await control.close();
    await fed.cluster.kill(index);
    const policyText = (await examplePolicyFor(AGENCIES)).replace(/(xa-border-police: \{[^}]*roles: )\[border-police\]/, '$1[coast-guard]');
    const t0 = Date.now();
    const report = await applyPolicy({ trustDir: fed.trustDir, policyText, catalog: typeCatalogOf(fed.catalog), url: fed.cluster.urls.join(','), admin: fed.exchange.admin, pushDirectory: () => fed.exchange.directory.refresh() });
    console.info(`[cluster-policy-apply] applied with node ${index} down in ${Date.now() - t0} ms; steps ${JSON.stringify(report.timings)}; consumers changed ${report.provisioned.changedConsumers?.length}, removed ${report.provisioned.removedConsumers.length}`);
    expect(report.cut).toContain(SENDER);
    // Only the change is provisioned, each step addressed by name (a listing waits ≈ 4 s for the dead node): bounded
    // by the meta leader's re-election when the killed node led it, not by the federation's hundreds of consumers.
    expect(Date.now() - t0).toBeLessThan(45_000);
    await fed.cluster.restart(index);
    const r = await refusedWithin(node.url, old, SENDER);
    console.info(`[cluster-policy-apply] the cut credentials refused on node ${index} ${r.ms} ms after its restart (${r.refused})`);
    expect(r.refused).toMatch(/authorization|revoked/i);
    // Control: the re-issued credentials connect there — once the agency's SDK has adopted them from the directory
    // (it writes them to its directory; it was reconnecting when the apply pushed the directory, and fetches the
    // directory again once reconnected, so the file can still hold the old JWT for a moment).
    const oldJwt = jwtOfCreds(await readFile(join(old, 'nats.creds')));
    const deadline = Date.now() + 30_000;
    while (jwtOfCreds(await readFile(join(fed.agencyDirs[SENDER]!, 'nats.creds'))) === oldJwt && Date.now() < deadline) await sleep(200);
    // The SDK adopted them (it was disconnected when the apply pushed the directory: it fetched it on reconnecting).
    expect(sender.policy.hash).toBe(report.to.hash);
    const fresh = await RawAgency.connect(node.url, fed.agencyDirs[SENDER]!, SENDER);
    await fresh.close();
  }, 180_000);
});
