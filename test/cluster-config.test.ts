/**
 * The exchange's cluster configuration (issue 16): what `exchange config --cluster` writes for real hosts (routes to
 * every node, TLS between routes verified both ways against the federation CA, a certificate naming every host and
 * usable as a route client), plain routes refused off loopback, the shipped example kept equal to the generator, and
 * `liaison exchange up --cluster 3` end to end (the real binary: three nats-servers, streams at 3 replicas, every
 * URL remembered, all stopped by Ctrl-C).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { ensureExchangeTls, initFederation, renderServerConfig, trustPaths } from '../services/trust/index.ts';
import { localNodeConfig } from '../services/exchange/exchange-cluster.ts';
import { startTestNatsCluster } from './fixture/nats-cluster.ts';
import { examplePolicyFor } from './support/cluster-federation.ts';
import { ROOT, startBin } from './support/liaison-bin.ts';

const HOSTS = ['nats1.example.org', 'nats2.example.org', 'nats3.example.org'];

/** Run the CLI in this process; what it printed and its exit code. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (l) => void (out += `${l}\n`), err: (l) => void (err += `${l}\n`), interrupted: new Promise(() => undefined) });
  return { code, out, err };
}

/** The `cluster { … }` block of a config. */
const clusterBlockOf = (config: string) => /^cluster \{\n[\s\S]*?^\}$/m.exec(config)?.[0];

describe('exchange config --cluster: one node of a cluster on real hosts', () => {
  let work: string;
  let trustDir: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-cluster-config-'));
    trustDir = join(work, 'trust');
    await initFederation({ dir: trustDir, policyText: await examplePolicyFor(['xa-border-police', 'mac-centre']), federationName: 'cluster-config' });
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('node 2 of three hosts: its own name and listener, routes to all three, TLS between routes verified against the federation CA', async () => {
    const r = await cli(['exchange', 'config', '--dir', trustDir, '--cluster', HOSTS.join(','), '--node', '2', '--store', '/var/lib/liaison']);
    expect(r.code).toBe(0);
    const p = trustPaths(trustDir);
    expect(r.out).toContain('server_name: "liaison-2"');
    expect(r.out).toContain('listen: "nats2.example.org:4222"');
    expect(clusterBlockOf(r.out)).toBe(
      [
        'cluster {',
        '  name: "liaison"',
        '  listen: "nats2.example.org:6222"',
        '  routes: [',
        ...HOSTS.map((h) => `    "nats-route://${h}:6222"`),
        '  ]',
        '  tls {',
        `    cert_file: ${JSON.stringify(p.serverCert)}`,
        `    key_file: ${JSON.stringify(p.serverKey)}`,
        `    ca_file: ${JSON.stringify(p.caCert)}`,
        '    verify: true',
        '    timeout: 2',
        '  }',
        '}',
      ].join('\n'),
    );
    // The nodes compare their account JWTs every 10 s: one that missed an update while down converges.
    expect(r.out).toContain('interval: "10s"');
    // One certificate for every node: it names each host, and serves as the client end of a route too.
    const cert = new X509Certificate(await readFile(p.serverCert));
    for (const h of HOSTS) expect(cert.checkHost(h)).toBe(h);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
  });

  it('refuses a cluster without --node, a node outside it, and plain routes to other machines', async () => {
    const noNode = await cli(['exchange', 'config', '--dir', trustDir, '--cluster', HOSTS.join(',')]);
    expect(noNode.code).not.toBe(0);
    expect(noNode.err).toMatch(/--node/);
    const outside = await cli(['exchange', 'config', '--dir', trustDir, '--cluster', HOSTS.join(','), '--node', '4']);
    expect(outside.code).not.toBe(0);
    let err: unknown;
    try {
      renderServerConfig({ trustDir, host: '127.0.0.1', port: 4222, storeDir: '/s', tls: false, cluster: { port: 6222, routes: ['127.0.0.1:6222', '10.0.0.7:6222'] } });
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_TLS')).toBe(true);
    expect((err as Error).message).toContain('10.0.0.7');
    // Control: plain routes on loopback are allowed, and carry no TLS block.
    const loopback = renderServerConfig({ trustDir, host: '127.0.0.1', port: 4222, storeDir: '/s', tls: false, cluster: { port: 6222, routes: ['127.0.0.1:6222', '127.0.0.1:6223'] } });
    expect(clusterBlockOf(loopback)).not.toContain('tls');
  });

  it('deploy/nats/cluster-3.conf.example shows the cluster block the generator writes', async () => {
    const example = readFileSync(join(ROOT, 'deploy/nats/cluster-3.conf.example'), 'utf8');
    const r = await cli(['exchange', 'config', '--dir', trustDir, '--cluster', HOSTS.join(','), '--node', '1', '--store', '/var/lib/liaison']);
    const generated = clusterBlockOf(r.out)!.replaceAll(trustPaths(trustDir).dir, '/etc/liaison/trust');
    expect(clusterBlockOf(example)).toBe(generated);
  });
});

describe('liaison exchange up --cluster 3 (the real binary)', () => {
  it('starts three clustered nats-servers, provisions at 3 replicas, remembers every URL, and Ctrl-C stops them all', async () => {
    const work = await mkdtemp(join(tmpdir(), 'liaison-cluster-up-'));
    const trustDir = join(work, 'trust');
    await initFederation({ dir: trustDir, policyText: await examplePolicyFor(['xa-border-police', 'mac-centre']), federationName: 'cluster-up' });
    const up = startBin(['exchange', 'up', '--dir', trustDir, '--cluster', '3', '--store', join(work, 'store')]);
    try {
      await up.waitFor(/Ctrl-C stops it/, 240_000);
      const urls = [...up.out().matchAll(/liaison-\d+ {2}(nats:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!);
      const pids = [...up.out().matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      expect(urls).toHaveLength(3);
      expect(pids).toHaveLength(3);
      expect(JSON.parse(await readFile(join(trustDir, 'exchange.json'), 'utf8')).url).toBe(urls.join(','));
      const ca = await readFile(trustPaths(trustDir).caCert, 'utf8');
      const nc = await connect({ servers: urls, tls: { ca }, authenticator: credsAuthenticator(await readFile(trustPaths(trustDir).adminCreds)) });
      const jsm = await jetstreamManager(nc);
      let streams = 0;
      for await (const si of jsm.streams.list()) {
        streams++;
        expect({ stream: si.config.name, replicas: si.config.num_replicas }).toEqual({ stream: si.config.name, replicas: 3 });
      }
      expect(streams).toBeGreaterThan(3);
      await nc.close();
      up.child.kill('SIGINT');
      const done = await up.done;
      expect(done.code).toBe(0);
      expect(done.out).toContain('exchange stopped');
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      if (up.child.exitCode === null) up.child.kill('SIGKILL');
      await rm(work, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('liaison exchange attach (the real binary): the control plane on nats-servers started elsewhere', () => {
  it('provisions a running three-node cluster at 3 replicas from every URL given; Ctrl-C stops it and leaves the servers running', async () => {
    const work = await mkdtemp(join(tmpdir(), 'liaison-cluster-attach-'));
    const trustDir = join(work, 'trust');
    await initFederation({ dir: trustDir, policyText: await examplePolicyFor(['xa-border-police', 'mac-centre']), federationName: 'cluster-attach' });
    const ca = (await ensureExchangeTls(trustDir)).toString();
    const cluster = await startTestNatsCluster({ name: 'attach', config: (node) => localNodeConfig({ trustDir }, node) });
    const attach = startBin(['exchange', 'attach', '--dir', trustDir, '--server', cluster.urls.join(',')]);
    try {
      await attach.waitFor(/Ctrl-C stops it/, 240_000);
      expect(attach.out()).toContain(`exchange attached to ${cluster.urls.join(',')}: streams and buckets at 3 replicas`);
      attach.child.kill('SIGINT');
      expect((await attach.done).code).toBe(0);
      // The servers were not its to stop: they still answer, with the streams at 3 replicas.
      const nc = await connect({ servers: cluster.urls, tls: { ca }, authenticator: credsAuthenticator(await readFile(trustPaths(trustDir).adminCreds)) });
      const jsm = await jetstreamManager(nc);
      const replicas = new Set<number>();
      for await (const si of jsm.streams.list()) replicas.add(si.config.num_replicas);
      await nc.close();
      expect([...replicas]).toEqual([3]);
    } finally {
      if (attach.child.exitCode === null) attach.child.kill('SIGKILL');
      await cluster.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 300_000);
});
