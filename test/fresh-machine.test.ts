import { execSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateNatsServer } from '../services/exchange/nats-binary.ts';
import { freePort } from '../services/exchange/nats-process.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { startNatsServer } from './fixture/nats-server.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';
import { ROOT, runBin, startBin } from './support/liaison-bin.ts';

const ENSURE = join(ROOT, 'scripts/ensure-nats-server.mjs');

/**
 * A fresh machine: whatever starts nats-server (the CLI's `exchange up`, `npm start`'s scenario, the test fixture,
 * `npm start`/`npm test`'s pre-step) finds it through one lookup: `LIAISON_NATS_SERVER`, else `nats-server` on the PATH.
 * A missing binary is one sentence naming the fix (ERR_NATS_SERVER_MISSING, exit 1), never a raw `spawn … ENOENT`.
 */
describe('fresh machine: finding nats-server', () => {
  let work: string;
  let trustDir: string;
  let wrapper: string;
  let marker: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-fresh-'));
    trustDir = join(work, 'trust');
    marker = join(work, 'wrapper-used');
    wrapper = join(work, 'bin', 'nats-server');
    await mkdir(dirname(wrapper));
    // A wrapper that records each start, then runs the real server.
    const target = execSync('command -v nats-server', { shell: '/bin/sh' }).toString().trim();
    await writeFile(wrapper, `#!/bin/sh\necho "$@" >> '${marker}'\nexec '${target}' "$@"\n`);
    await chmod(wrapper, 0o755);
    const init = await runBin(['trust', 'init', '--dir', trustDir, '--policy', EXAMPLE_POLICY]);
    expect(init.code, init.err).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('exchange up with LIAISON_NATS_SERVER=/nonexistent: one sentence naming the fix, exit 1, no ENOENT, no stack', async () => {
    const port = await freePort();
    const r = await runBin(['exchange', 'up', '--dir', trustDir, '--plain', '--port', String(port), '--store', join(work, 'store-missing')], { LIAISON_NATS_SERVER: '/nonexistent/nats-server' });
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    expect(lines, r.err).toHaveLength(1);
    expect(lines[0]).toMatch(/^liaison: ERR_NATS_SERVER_MISSING: /);
    expect(lines[0]).toContain('/nonexistent/nats-server');
    expect(lines[0]).toContain('LIAISON_NATS_SERVER');
    expect(r.err).not.toMatch(/ENOENT|\n\s+at /);
  }, 60_000);

  it('npm start (the demo) with LIAISON_NATS_SERVER=/nonexistent: one line naming the fix, exit 1, no stack', async () => {
    const r = await runBin([], { LIAISON_NATS_SERVER: '/nonexistent/nats-server' }, join(ROOT, 'services/simulator/main.ts'), 120_000);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^demo failed: ERR_NATS_SERVER_MISSING: LIAISON_NATS_SERVER names \/nonexistent\/nats-server/);
    expect(r.err).not.toMatch(/ENOENT|\n\s+at /);
  }, 150_000);

  it('with nats-server neither on the PATH nor in /usr/sbin, the error names the apt-get command', () => {
    let err: unknown;
    try {
      locateNatsServer({ PATH: join(work, 'empty-bin') }, []);
    } catch (e) {
      err = e;
    }
    expect(isLiaisonError(err, 'ERR_NATS_SERVER_MISSING')).toBe(true);
    expect((err as Error).message).toContain('sudo apt-get install -y nats-server');
    expect((err as Error).message).toContain('LIAISON_NATS_SERVER');
    // Debian installs it in /usr/sbin, which an ordinary user's PATH lacks: found there all the same.
    expect(locateNatsServer({ PATH: join(work, 'empty-bin') }, [dirname(wrapper)])).toBe(wrapper);
  });

  it('exchange up runs the binary LIAISON_NATS_SERVER names (a wrapper that records its use)', async () => {
    const port = await freePort();
    const up = startBin(['exchange', 'up', '--dir', trustDir, '--plain', '--port', String(port), '--store', join(work, 'store-wrapped')], { LIAISON_NATS_SERVER: wrapper });
    try {
      await up.waitFor(/Ctrl-C stops it/, 60_000);
      expect(await readFile(marker, 'utf8')).toContain('-c');
    } finally {
      up.child.kill('SIGTERM');
      await up.done;
    }
  }, 90_000);

  it('the test fixture runs the binary LIAISON_NATS_SERVER names', async () => {
    await rm(marker, { force: true });
    const before = process.env.LIAISON_NATS_SERVER;
    process.env.LIAISON_NATS_SERVER = wrapper;
    try {
      const server = await startNatsServer({ name: 'wrapped', runtime: 'local', config: (ctx) => `listen: ${ctx.host}:${ctx.port}\n` });
      await server.stop();
    } finally {
      if (before === undefined) delete process.env.LIAISON_NATS_SERVER;
      else process.env.LIAISON_NATS_SERVER = before;
    }
    expect(await readFile(marker, 'utf8')).toContain('-c');
  }, 60_000);

  it('npm start / npm test pre-step: quiet when the binary is there, one sentence naming the command and exit 1 when LIAISON_NATS_SERVER names nothing', async () => {
    const ok = await runBin([], { LIAISON_NATS_SERVER: wrapper }, ENSURE);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out + ok.err).toBe('');
    const missing = await runBin([], { LIAISON_NATS_SERVER: '/nonexistent/nats-server' }, ENSURE);
    expect(missing.code).toBe(1);
    const lines = missing.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('/nonexistent/nats-server');
    expect(lines[0]).toContain('LIAISON_NATS_SERVER');
    expect(missing.err).not.toMatch(/ENOENT|\n\s+at /);
  }, 30_000);

  it('testcontainers is a test tool: a devDependency, and nothing under services/ imports it', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const name of ['testcontainers', '@testcontainers/nats']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
    const files = (await readdir(join(ROOT, 'services'), { recursive: true })).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    for (const f of files) expect(await readFile(join(ROOT, 'services', f), 'utf8'), f).not.toMatch(/from ['"](@testcontainers\/|testcontainers)/);
  });

  it('package.json runs the pre-step before npm start and npm test', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prestart).toContain('scripts/ensure-nats-server.mjs');
    expect(pkg.scripts.pretest).toContain('scripts/ensure-nats-server.mjs');
  });
});
