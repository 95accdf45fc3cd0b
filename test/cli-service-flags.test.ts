import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interrupted: new Promise(() => undefined) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * The centre's alert coalescing and the case registry's memory bound are tunable from the CLI, and a bad value is a
 * usage error (exit 2) found before anything connects: an operator learns of a typo at once, not after a connection
 * attempt or, worse, with the default silently applied.
 */
describe('service flags: centre alert window and cap, case registry memory bound', () => {
  let work: string;
  let missing: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-flags-'));
    missing = join(work, 'no-such-agency');
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it.each([
    [['centre', 'up', '--alert-window-ms=-1'], '--alert-window-ms must be an integer from 0 to 60000'],
    [['centre', 'up', '--alert-window-ms', '1.5'], '--alert-window-ms must be an integer'],
    [['centre', 'up', '--alert-cap', '0'], '--alert-cap must be an integer from 1 to 100000'],
    [['workflows', 'up', '--cache-cases=-3'], '--cache-cases must be an integer from 0 to 10000000'],
    [['workflows', 'up', '--cache-cases', 'many'], '--cache-cases must be an integer'],
  ])('%j is refused as a usage error before connecting', async (argv, message) => {
    const r = await cli([...argv, '--as', missing]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain(message);
  });

  it.each([
    [['centre', 'up', '--alert-window-ms', '0', '--alert-cap', '64']],
    [['workflows', 'up', '--cache-cases', '0']],
  ])('%j is accepted: the run goes on to the agency directory (which does not exist here)', async (argv) => {
    const r = await cli([...argv, '--as', missing]);
    expect(r.err).not.toContain('ERR_USAGE');
    expect(r.err).toContain(missing);
  });
});
