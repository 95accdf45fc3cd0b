/**
 * `liaison exchange reconcile`: the full reconcile an operator can run (services/exchange/full-reconcile.ts). The
 * exchange provisions by name (attach, reprovision, an unchanged policy apply), which never finds a durable consumer
 * made outside Liaison; `liaison doctor` lists and reports such a stray, and its fix names this command, which lists
 * every stream's consumers, deletes what no policy grants, makes what is missing and says so. Real nats-server.
 */
import { readFile } from 'node:fs/promises';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { checkFederation } from '../services/doctor/federation.ts';
import type { Finding } from '../services/doctor/finding.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { trustPaths } from '../services/trust/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/** A durable consumer nothing in Liaison made: a tap on every personal document report. */
const STRAY = { durable_name: 'rogue-tap', ack_policy: AckPolicy.Explicit, filter_subject: 'liaison.v1.personal.documents.>' };
/** A consumer the example policy grants the border police. */
const GRANTED = 'xa-border-police__DocumentHitNotice__direct';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in process; `stop` resolves its `interrupted` (Ctrl-C); `lines` is what it printed so far. */
function cli(argv: string[]): { done: Promise<Run>; stop: () => void; lines: string[] } {
  const lines: string[] = [];
  const err: string[] = [];
  let stop = () => undefined as void;
  const interrupted = new Promise<void>((r) => (stop = r));
  const done = runCli(argv, { out: (l) => void lines.push(l), err: (l) => void err.push(l), interrupted }).then((code) => ({ code, out: lines.join('\n'), err: err.join('\n') }));
  return { done, stop, lines };
}

/** Until `cond` holds, polled, or `ms` pass. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const problem = (fs: Finding[], check: string) => fs.find((f) => f.check === check && f.status !== 'ok');

describe('liaison exchange reconcile: the full reconcile, from the CLI', () => {
  let fed: TestFederation;
  /** The exchange administrator, as an operator's `nats` tool would be (the control plane is restarted below). */
  let admin: NatsConnection;
  const doctor = async () => await checkFederation({ dir: fed.trustDir, server: fed.server.url, catalog: typeCatalogOf(fed.catalog) });
  const exists = async (stream: string, name: string) => Boolean(await (await jetstreamManager(admin)).consumers.info(stream, name).catch(() => undefined));

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: ['xa-border-police', 'mac-centre'], name: 'exchange-reconcile' });
    admin = await connect({ servers: fed.server.url, tls: fed.tls, authenticator: credsAuthenticator(new Uint8Array(await readFile(trustPaths(fed.trustDir).adminCreds))) });
  });
  afterAll(async () => {
    await admin?.close();
    await fed?.stop();
  });

  it('a consumer made by hand survives `exchange attach` (by name); doctor names the command, which removes it and makes a missing one; doctor then reports none', async () => {
    const jsm = await jetstreamManager(admin);
    await jsm.consumers.add('LIAISON_DOCUMENTS', STRAY);
    const before = problem(await doctor(), 'stray consumers');
    expect(before?.detail).toContain('rogue-tap');
    // The fix is the exact command, with this federation's directory and server.
    const command = `liaison exchange reconcile --dir ${fed.trustDir} --server ${fed.server.url}`;
    expect(before?.fix).toContain(command);

    // The control plane restarted through the CLI provisions by name: the stray is not found.
    await fed.exchange.stop();
    const attach = cli(['exchange', 'attach', '--dir', fed.trustDir, '--server', fed.server.url]);
    try {
      expect(await until(() => attach.lines.some((l) => l.includes('Ctrl-C stops it')), 120_000)).toBe(true);
    } finally {
      attach.stop();
    }
    expect((await attach.done).code).toBe(0);
    expect(await exists('LIAISON_DOCUMENTS', 'rogue-tap')).toBe(true);
    expect(problem(await doctor(), 'stray consumers')?.detail).toContain('rogue-tap');

    // A granted consumer lost since: the full reconcile makes it again, and says so.
    await jsm.consumers.delete('LIAISON_DOCUMENTS', GRANTED);
    const run = await cli(command.split(' ').slice(1)).done;
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^removed 1 consumer no policy grants: rogue-tap$/m);
    expect(run.out).toMatch(new RegExp(`^made or changed 1 consumer: ${GRANTED}$`, 'm'));
    expect(await exists('LIAISON_DOCUMENTS', 'rogue-tap')).toBe(false);
    expect(await exists('LIAISON_DOCUMENTS', GRANTED)).toBe(true);
    const after = await doctor();
    expect(problem(after, 'stray consumers')).toBeUndefined();
    expect(problem(after, 'provisioning')).toBeUndefined();

    // Run again: nothing left to do, and it says that too.
    const again = await cli(command.split(' ').slice(1)).done;
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^removed 0 consumers no policy grants$/m);
    expect(again.out).toMatch(/^made or changed 0 consumers$/m);
  }, 240_000);

  it('doctor reports as strays exactly what the full reconcile deletes: not an ephemeral reader nor a bridge export consumer', async () => {
    const jsm = await jetstreamManager(admin);
    const ephemeral = await jsm.consumers.add('LIAISON_DOCUMENTS', { ack_policy: AckPolicy.None, filter_subject: 'liaison.v1.personal.documents.>', inactive_threshold: 60_000_000_000 });
    await jsm.consumers.add('LIAISON_DOCUMENTS', { ...STRAY, durable_name: 'bridge_test-agreement__out' });
    try {
      expect(problem(await doctor(), 'stray consumers')).toBeUndefined();
      const run = await cli(['exchange', 'reconcile', '--dir', fed.trustDir, '--server', fed.server.url, '--json']).done;
      expect(run.code).toBe(0);
      expect((JSON.parse(run.out) as { removedConsumers: string[] }).removedConsumers).toEqual([]);
      expect(await exists('LIAISON_DOCUMENTS', ephemeral.name)).toBe(true);
      expect(await exists('LIAISON_DOCUMENTS', 'bridge_test-agreement__out')).toBe(true);
    } finally {
      await jsm.consumers.delete('LIAISON_DOCUMENTS', ephemeral.name).catch(() => undefined);
      await jsm.consumers.delete('LIAISON_DOCUMENTS', 'bridge_test-agreement__out').catch(() => undefined);
    }
  }, 120_000);

  it('a bad flag or a missing --dir is a usage error: exit 2, naming the command', async () => {
    const bad = await cli(['exchange', 'reconcile', '--dir', fed.trustDir, '--bogus']).done;
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/ERR_USAGE: .*bogus.*liaison exchange reconcile --help/);
    const missing = await cli(['exchange', 'reconcile']).done;
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('missing --dir (usage: liaison exchange reconcile');
  });
});
