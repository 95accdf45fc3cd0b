#!/usr/bin/env node
// `npm test` / `npm run console` pre-step: make sure a Chromium is there for the console's browser tests
// (playwright-core drives it; browser downloads are impossible on these machines, so it is Debian's package).
// Quiet when it is. When it is missing on Debian/Ubuntu and we may install (root, or `sudo -n` without a
// password), installs it with apt-get, saying so in one line; otherwise says how in one sentence and exits 0:
// only the browser tests need it, and they say so themselves. LIAISON_CHROMIUM, when set, must name a binary.
import { accessSync, constants } from 'node:fs';
import { aptInstall, say } from './apt.mjs';

export const CHROMIUM_ENV = 'LIAISON_CHROMIUM';
export const CHROMIUM_INSTALL = 'sudo apt-get install -y --no-install-recommends chromium';
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The Chromium to drive: LIAISON_CHROMIUM, else Debian's; undefined when none. */
export function locateChromium() {
  const named = process.env[CHROMIUM_ENV];
  if (named) return executable(named) ? named : undefined;
  return CANDIDATES.find(executable);
}

function main() {
  if (locateChromium()) return 0;
  if (process.env[CHROMIUM_ENV]) {
    say(`${CHROMIUM_ENV}=${process.env[CHROMIUM_ENV]} names no executable file.`);
    return 1;
  }
  const outcome = aptInstall('chromium', "Chromium (for the console's browser tests)");
  if (outcome === 'not-allowed') {
    say(`Chromium is not installed (the console's browser tests need it): run \`${CHROMIUM_INSTALL}\` or set ${CHROMIUM_ENV} to a Chromium binary.`);
    return 0;
  }
  if (outcome === 'failed') {
    say(`installing Chromium failed (output above): run \`${CHROMIUM_INSTALL}\`.`);
    return 1;
  }
  return locateChromium() ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main());
