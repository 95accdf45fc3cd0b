import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_POLICY } from './support/federation.ts';
import { runBin } from './support/liaison-bin.ts';

describe('-o/--output text|table|json|yaml on every command that prints data (as kubectl and nats do)', () => {
  const explain = ['policy', 'explain', EXAMPLE_POLICY, '--role', 'ngo'];

  it('-o json prints what --json prints; -o yaml the same values as YAML documents', async () => {
    const viaFlag = await runBin([...explain, '--json']);
    const viaO = await runBin([...explain, '-o', 'json']);
    expect(viaFlag.code).toBe(0);
    expect(viaO.code).toBe(0);
    expect(viaO.out).toBe(viaFlag.out);
    const values = viaFlag.out.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    const yaml = await runBin([...explain, '--output', 'yaml']);
    expect(yaml.code).toBe(0);
    expect(yaml.out.startsWith('---\n')).toBe(true);
    expect(parseAllDocuments(yaml.out).map((d) => d.toJS() as unknown)).toEqual(values);
  });

  it('-o text (or table) is the default human output; any other format is a usage error (exit 2) naming the choices', async () => {
    const text = await runBin([...explain, '-o', 'table']);
    expect(text.code).toBe(0);
    expect(text.out).toBe((await runBin(explain)).out);
    expect(() => JSON.parse(text.out.split('\n')[0]!)).toThrow();
    const bad = await runBin([...explain, '-o', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('-o/--output must be text, table, json or yaml, got "xml"');
  });

  it('--help lists -o for a command with --json, and not for one without', async () => {
    expect((await runBin(['policy', 'explain', '--help'])).out).toMatch(/-o, --output VALUE\s+output format/);
    expect((await runBin(['trust', 'init', '--help'])).out).not.toContain('--output');
  });
});

describe('send and correct take the body by --body or -f/--file (- for stdin); --json is its older name', () => {
  it('exactly one body source; two are a usage error naming both; -f of a missing file names it; bad JSON names where it came from', async () => {
    const as = ['--as', '/nonexistent-agency', '--type', 'DocumentReport'];
    const both = await runBin(['send', ...as, '--body', '{}', '-f', 'x.json']);
    expect(both.code).toBe(2);
    expect(both.err).toContain('give the body once: --body JSON or -f/--file FILE (- for stdin), not --body and --file');
    const none = await runBin(['send', ...as]);
    expect(none.code).toBe(2);
    const missing = await runBin(['correct', '--as', '/nonexistent-agency', '0190c1e2-0000-7000-8000-000000000000', '-f', '/nonexistent/body.json']);
    expect(missing.err.trim()).toBe('liaison: ERR_USAGE: cannot open /nonexistent/body.json: no such file or directory');
    const bad = await runBin(['send', ...as, '--body', '{nope']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('ERR_BODY_INVALID: --body is not valid JSON');
    const old = await runBin(['send', ...as, '--json', '{nope']);
    expect(old.err).toContain('ERR_BODY_INVALID: --json is not valid JSON');
  }, 120_000);
});
