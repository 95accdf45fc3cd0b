#!/usr/bin/env node
// `npm start` / `npm test` pre-step: make sure nats-server is there before anything tries to start it.
// Quiet when it is. When it is missing on Debian/Ubuntu and we may install (root, or `sudo -n` without a
// password), installs it with apt-get, saying so in one line; otherwise stops (exit 1) with one sentence naming
// the command to run. LIAISON_NATS_SERVER, when set, is never second-guessed: it must name a binary.
// Runs with the pinned Node 24 (npm puts node_modules/.bin first on the PATH), which loads the .ts lookup directly.
// apt-get, sudo and id are looked up on the PATH. LIAISON_NATS_SBIN_DIRS (colon-separated, may be empty) replaces
// the sbin directories searched after the PATH (/usr/sbin, /usr/local/sbin): test/ensure-nats-server.test.ts runs
// this script against fake apt-get/sudo/id on a PATH of its own, where the machine's real server must not be found.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { locateNatsServer, NATS_SERVER_ENV, NATS_SERVER_INSTALL, SBIN_DIRS } from '../services/exchange/nats-binary.ts';

const say = (line) => process.stderr.write(`liaison: ${line}\n`);

const sbinDirs = process.env.LIAISON_NATS_SBIN_DIRS === undefined ? SBIN_DIRS : process.env.LIAISON_NATS_SBIN_DIRS.split(delimiter).filter(Boolean);

function found() {
  try {
    return { path: locateNatsServer(process.env, sbinDirs) };
  } catch (err) {
    return { error: err };
  }
}

/** Whether `name` is an executable on the PATH. */
function onPath(name) {
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
function privilege() {
  if (uid() === 0) return [];
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n'] : undefined;
}

/** Run apt-get (output kept unless it fails); true on success. */
function aptGet(prefix, args) {
  const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
  const r = spawnSync(cmd, rest, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) process.stderr.write(`${(r.stdout ?? '') + (r.stderr ?? '')}`.split('\n').slice(-6).join('\n'));
  return r.status === 0;
}

function main() {
  const first = found();
  if (first.path) return 0;
  const manual = `run \`${NATS_SERVER_INSTALL}\` (Debian/Ubuntu; elsewhere see https://docs.nats.io/running-a-nats-service/introduction/installation) or set ${NATS_SERVER_ENV} to its path, then run this command again`;
  // A binary named explicitly that is not there is the user's to fix; installing another would hide the mistake.
  if (process.env[NATS_SERVER_ENV] || process.env.NATS_SERVER_BIN) {
    say(`${first.error.message}.`);
    return 1;
  }
  const prefix = onPath('apt-get') ? privilege() : undefined;
  if (!prefix) {
    say(`nats-server is not installed: ${manual}.`);
    return 1;
  }
  say(`nats-server is missing: installing it with \`${[...prefix, 'apt-get', 'install', '-y', 'nats-server'].join(' ')}\` (once).`);
  if (!aptGet(prefix, ['install', '-y', 'nats-server'])) {
    say('the package lists may be stale: running `apt-get update` first, then installing again.');
    if (!aptGet(prefix, ['update']) || !aptGet(prefix, ['install', '-y', 'nats-server'])) {
      say(`installing nats-server failed (output above): ${manual}.`);
      return 1;
    }
  }
  const after = found();
  if (after.path) return 0;
  say(`${after.error.message}.`);
  return 1;
}

process.exit(main());
