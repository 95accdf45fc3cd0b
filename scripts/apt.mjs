// Shared by the `npm test` / `npm start` pre-steps that install a Debian package the tests need when it is missing
// (Chromium for the console's browser tests, protoc for the export recipe). Downloads outside Debian's packages are
// impossible on these machines, so apt-get is the only installer. apt-get, sudo and id are looked up on the PATH, so
// test/ensure-nats-server.test.ts can run ensure-nats-server.mjs (which shares these steps) against fakes of them.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** One line on stderr, prefixed like the CLI's. */
export const say = (line) => process.stderr.write(`liaison: ${line}\n`);

/** Whether `name` is an executable on the PATH. */
export function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The effective user id, as `id -u` says (process.getuid when `id` cannot tell). */
function uid() {
  const r = spawnSync('id', ['-u'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return r.status === 0 && Number.isInteger(n) ? n : process.getuid?.();
}

/** `[]` when root, `['sudo', '-n']` when sudo works without a password, undefined when we may not install. */
export function privilege() {
  if (uid() === 0) return [];
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n'] : undefined;
}

/** Run apt-get (output kept unless it fails); true on success. */
export function aptGet(prefix, args) {
  const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
  const r = spawnSync(cmd, rest, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) process.stderr.write(`${(r.stdout ?? '') + (r.stderr ?? '')}`.split('\n').slice(-6).join('\n'));
  return r.status === 0;
}

/**
 * Install Debian package `pkg` (without recommends) when we may: first as is, then after `apt-get update` (stale lists).
 * Returns 'installed', 'failed', or 'not-allowed' (no apt-get, or neither root nor password-less sudo).
 * `what` names the package for people in the one line said before installing.
 */
export function aptInstall(pkg, what) {
  const prefix = onPath('apt-get') ? privilege() : undefined;
  if (!prefix) return 'not-allowed';
  const install = ['install', '-y', '--no-install-recommends', pkg];
  say(`${what} is missing: installing it with \`${[...prefix, 'apt-get', ...install].join(' ')}\` (once).`);
  const ok = aptGet(prefix, install) || (aptGet(prefix, ['update']) && aptGet(prefix, install));
  return ok ? 'installed' : 'failed';
}
