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
