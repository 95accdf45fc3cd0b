import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logSettings } from '../services/sdk/logging.ts';
import { runBin } from './support/liaison-bin.ts';

const PROBE = join(import.meta.dirname, 'support/log-probe.ts');
const probe = (env: Record<string, string | undefined>) => runBin([], { LIAISON_LOG_LEVEL: undefined, ...env }, PROBE);

describe('logs: structured to stderr or a file, never mixed into a command\'s stdout', () => {
  const work = mkdtempSync(join(tmpdir(), 'liaison-logs-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('by default (not a terminal) logs are pino JSON lines on stderr and stdout carries only the output', async () => {
    const r = await probe({});
    expect(r.code).toBe(0);
    expect(r.out).toBe('command output\n');
    const line = JSON.parse(r.err.trim().split('\n')[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, name: 'probe', agency: 'xa-ncb', msg: 'probe logged', body: '[redacted]' });
    expect(r.err).not.toContain('do-not-log');
    expect(r.err).not.toContain('probe debug line');
  });

  it('LIAISON_LOG_LEVEL=debug adds debug lines; LIAISON_LOG_FORMAT=pretty writes readable lines, not JSON', async () => {
    const debug = await probe({ LIAISON_LOG_LEVEL: 'debug' });
    expect(debug.err).toContain('probe debug line');
    const pretty = await probe({ LIAISON_LOG_FORMAT: 'pretty' });
    expect(pretty.out).toBe('command output\n');
    expect(pretty.err).toMatch(/INFO.*probe logged/);
    expect(() => JSON.parse(pretty.err.trim().split('\n')[0]!)).toThrow();
    expect(pretty.err).not.toContain('do-not-log');
  });

  it('LIAISON_LOG_FILE sends the logs to a file created 0600, nothing to stderr', async () => {
    const file = join(work, 'sub', 'liaison.log');
    const r = await probe({ LIAISON_LOG_FILE: file });
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(JSON.parse(readFileSync(file, 'utf8').trim())).toMatchObject({ msg: 'probe logged' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a wrong LIAISON_LOG_LEVEL or LIAISON_LOG_FORMAT is ERR_USAGE naming the variable and its choices', async () => {
    const r = await probe({ LIAISON_LOG_LEVEL: 'verbose' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE: LIAISON_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"');
    expect(() => logSettings({ LIAISON_LOG_FORMAT: 'xml' }, false)).toThrow(/LIAISON_LOG_FORMAT must be json or pretty/);
    // The default format follows the terminal: pretty on a TTY, JSON in a pipe or a file.
    expect(logSettings({}, true).format).toBe('pretty');
    expect(logSettings({}, false).format).toBe('json');
    expect(logSettings({ LIAISON_LOG_FILE: join(work, 'x.log') }, true).format).toBe('json');
  });
});

describe('the CLI answers a file it cannot open with one line and exit 2, never a stack trace', () => {
  it('send --file of a missing file names the file', async () => {
    const r = await runBin(['send', '--as', tmpdir(), '--type', 'DocumentReport', '--file', '/nonexistent/body.json']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('liaison: ERR_USAGE: cannot open /nonexistent/body.json: no such file or directory');
  });

  it('a scenario that cannot be read is an invalid configuration: one typed line naming it, exit 2, no stack trace', async () => {
    const r = await runBin(['simulate', '/nonexistent/scenario.yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/scenario.yaml');
    expect(r.err).toContain('ERR_CONFIG_INVALID');
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
