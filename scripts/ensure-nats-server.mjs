#!/usr/bin/env node
// `npm start` / `npm test` pre-step: make sure nats-server is there before anything tries to start it.
// Quiet when it is. When it is missing on Debian/Ubuntu and we may install (root, or `sudo -n` without a
// password), installs it with apt-get, saying so in one line; otherwise stops (exit 1) with one sentence naming
// the command to run. LIAISON_NATS_SERVER, when set, is never second-guessed: it must name a binary.
// Runs with the pinned Node 24 (npm puts node_modules/.bin first on the PATH), which loads the .ts lookup directly.
// apt-get, sudo and id are looked up on the PATH. LIAISON_NATS_SBIN_DIRS (colon-separated, may be empty) replaces
// the sbin directories searched after the PATH (/usr/sbin, /usr/local/sbin): test/ensure-nats-server.test.ts runs
// this script against fake apt-get/sudo/id on a PATH of its own, where the machine's real server must not be found.
import { delimiter } from 'node:path';
import { locateNatsServer, NATS_SERVER_ENV, NATS_SERVER_INSTALL, SBIN_DIRS } from '../services/exchange/nats-binary.ts';
import { aptGet, onPath, privilege, say } from './apt.mjs';

const sbinDirs = process.env.LIAISON_NATS_SBIN_DIRS === undefined ? SBIN_DIRS : process.env.LIAISON_NATS_SBIN_DIRS.split(delimiter).filter(Boolean);

function found() {
  try {
    return { path: locateNatsServer(process.env, sbinDirs) };
  } catch (err) {
    return { error: err };
  }
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
