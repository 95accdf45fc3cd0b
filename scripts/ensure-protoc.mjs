#!/usr/bin/env node
// `npm test` pre-step: make sure protoc is there — test/export runs the README's and VERIFY.md's decode lines for
// exported envelopes with it. Quiet when it is; installs Debian's protobuf-compiler when it may (root or password-less
// sudo), saying so in one line; otherwise says how in one sentence and exits 0 (that one test then says so itself).
import { spawnSync } from 'node:child_process';
import { aptInstall, say } from './apt.mjs';

export const PROTOC_INSTALL = 'sudo apt-get install -y protobuf-compiler';

const present = () => spawnSync('protoc', ['--version'], { stdio: 'ignore' }).status === 0;

function main() {
  if (present()) return 0;
  const outcome = aptInstall('protobuf-compiler', 'protoc (for the export recipe test)');
  if (outcome === 'not-allowed') {
    say(`protoc is not installed (test/export runs the documented decode lines with it): run \`${PROTOC_INSTALL}\`.`);
    return 0;
  }
  if (outcome === 'failed') {
    say(`installing protoc failed (output above): run \`${PROTOC_INSTALL}\`.`);
    return 1;
  }
  return present() ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main());
