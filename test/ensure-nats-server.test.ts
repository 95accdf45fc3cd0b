import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runBin, type BinRun } from './support/liaison-bin.ts';

const ENSURE = join(ROOT, 'scripts/ensure-nats-server.mjs');

/** How the fake machine's apt-get behaves: installs; fails until `apt-get update` ran; always fails; installs nothing. */
type Apt = 'installs' | 'stale-lists' | 'broken' | 'installs-nothing' | 'absent';

interface FakeMachine {
  bin: string;
  run(): Promise<BinRun>;
  /** Each call's arguments, in order. */
  calls(tool: 'apt-get' | 'sudo'): Promise<string[]>;
}

/**
 * A machine without nats-server, at the boundary of the script: a PATH holding only shell scripts standing in for
 * `id`, `sudo` and `apt-get`, each recording its arguments. The fake apt-get "installs" nats-server by writing a stub
 * into that PATH. The machine's real /usr/sbin is kept out (LIAISON_NATS_SBIN_DIRS empty), so nothing real is touched.
 */
async function fakeMachine(root: string, name: string, o: { uid: number; sudo: boolean; apt: Apt }): Promise<FakeMachine> {
  const dir = join(root, name);
  const bin = join(dir, 'bin');
  const log = join(dir, 'log');
  await mkdir(bin, { recursive: true });
  await mkdir(log);
  const tool = async (file: string, body: string) => {
    await writeFile(join(bin, file), `#!/bin/sh\n${body}\n`);
    await chmod(join(bin, file), 0o755);
  };
  await tool('id', `[ "$1" = "-u" ] && echo ${o.uid}`);
  await tool(
    'sudo',
    [
      `echo "$*" >> '${log}/sudo'`,
      o.sudo ? '[ "$1" = "-n" ] && shift' : 'echo "sudo: a password is required" >&2; exit 1',
      '[ "$1" = true ] && exit 0',
      'exec "$@"',
    ].join('\n'),
  );
  const install = `printf '#!/bin/sh\\necho "nats-server: v2.9.10"\\n' > '${bin}/nats-server'; /bin/chmod 755 '${bin}/nats-server'`;
  const onInstall: Record<Exclude<Apt, 'absent'>, string> = {
    installs: install,
    'stale-lists': `[ -f '${log}/updated' ] || { echo "E: Unable to locate package nats-server" >&2; exit 100; }; ${install}`,
    broken: 'echo "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2; exit 100',
    'installs-nothing': 'true',
  };
  if (o.apt !== 'absent') {
    await tool(
      'apt-get',
      [
        `echo "$*" >> '${log}/apt-get'`,
        `[ "$DEBIAN_FRONTEND" = noninteractive ] || { echo "apt-get would prompt: DEBIAN_FRONTEND is '$DEBIAN_FRONTEND'" >&2; exit 99; }`,
        'case "$1" in',
        `  update) : > '${log}/updated' ;;`,
        `  install) ${onInstall[o.apt]} ;;`,
        '  *) exit 64 ;;',
        'esac',
      ].join('\n'),
    );
  }
  return {
    bin,
    run: () => runBin([], { PATH: bin, LIAISON_NATS_SBIN_DIRS: '', LIAISON_NATS_SERVER: undefined, NATS_SERVER_BIN: undefined }, ENSURE),
    calls: async (t) => (await readFile(join(log, t), 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

const MANUAL = '`sudo apt-get install -y nats-server`';

describe('npm start / npm test pre-step on a machine without nats-server: installs it with apt-get, or names the command', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'liaison-ensure-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('as root: `apt-get install -y nats-server` without sudo, said in one line, then the binary is found (exit 0)', async () => {
    const m = await fakeMachine(root, 'root', { uid: 0, sudo: true, apt: 'installs' });
    const r = await m.run();
    expect(r.code, r.err).toBe(0);
    expect(await m.calls('apt-get')).toEqual(['install -y nats-server']);
    expect(await m.calls('sudo')).toEqual([]);
    expect(r.err.trim().split('\n')).toEqual(['liaison: nats-server is missing: installing it with `apt-get install -y nats-server` (once).']);
    expect(r.out).toBe('');
  }, 30_000);

  it('stale package lists: `apt-get update`, then `apt-get install -y nats-server` again, then found (exit 0)', async () => {
    const m = await fakeMachine(root, 'stale', { uid: 0, sudo: false, apt: 'stale-lists' });
    const r = await m.run();
    expect(r.code, r.err).toBe(0);
    expect(await m.calls('apt-get')).toEqual(['install -y nats-server', 'update', 'install -y nats-server']);
    expect(r.err).toContain('running `apt-get update` first');
  }, 30_000);

  it('not root, passwordless sudo: every apt-get goes through `sudo -n`', async () => {
    const m = await fakeMachine(root, 'sudoer', { uid: 1000, sudo: true, apt: 'stale-lists' });
    const r = await m.run();
    expect(r.code, r.err).toBe(0);
    expect(await m.calls('sudo')).toEqual(['-n true', '-n apt-get install -y nats-server', '-n apt-get update', '-n apt-get install -y nats-server']);
    expect(await m.calls('apt-get')).toEqual(['install -y nats-server', 'update', 'install -y nats-server']);
    expect(r.err).toContain('installing it with `sudo -n apt-get install -y nats-server`');
  }, 30_000);

  it('apt-get fails: exit 1, its last lines, then one sentence naming the manual command', async () => {
    const m = await fakeMachine(root, 'broken', { uid: 0, sudo: false, apt: 'broken' });
    const r = await m.run();
    expect(r.code).toBe(1);
    expect(await m.calls('apt-get')).toEqual(['install -y nats-server', 'update', 'install -y nats-server']);
    expect(r.err).toContain('E: Could not get lock');
    const last = r.err.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^liaison: installing nats-server failed \(output above\): run /);
    expect(last).toContain(MANUAL);
    expect(last).toContain('LIAISON_NATS_SERVER');
    expect(r.err).not.toMatch(/ENOENT|\n\s+at /);
  }, 30_000);

  it('apt-get says it installed but no binary appears: exit 1 with the lookup’s sentence, not success', async () => {
    const m = await fakeMachine(root, 'nothing', { uid: 0, sudo: false, apt: 'installs-nothing' });
    const r = await m.run();
    expect(r.code).toBe(1);
    expect(await m.calls('apt-get')).toEqual(['install -y nats-server']);
    expect(r.err.trim().split('\n').at(-1)).toContain(`nats-server is not installed`);
  }, 30_000);

  it('not root and sudo asks for a password: nothing is run, exit 1, one sentence naming the manual command', async () => {
    const m = await fakeMachine(root, 'user', { uid: 1000, sudo: false, apt: 'installs' });
    const r = await m.run();
    expect(r.code).toBe(1);
    expect(await m.calls('sudo')).toEqual(['-n true']);
    expect(await m.calls('apt-get')).toEqual([]);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^liaison: nats-server is not installed: run /);
    expect(lines[0]).toContain(MANUAL);
  }, 30_000);

  it('no apt-get (not Debian/Ubuntu): no sudo, exit 1, one sentence naming the command and the docs', async () => {
    const m = await fakeMachine(root, 'other-os', { uid: 0, sudo: true, apt: 'absent' });
    const r = await m.run();
    expect(r.code).toBe(1);
    expect(await m.calls('sudo')).toEqual([]);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(MANUAL);
    expect(lines[0]).toContain('https://docs.nats.io');
  }, 30_000);
});
