import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MESSAGES_DOC } from '../services/cli/schema-markdown.ts';
import { describeCatalogue } from '../services/sdk/schema/describe.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'services/cli/bin/liaison.mjs');

/** The real `liaison` binary, as a user runs it. */
function liaison(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('the message catalogue for people (docs/messages.md, liaison schema)', () => {
  const catalog = loadCatalog();
  const d = describeCatalogue(catalog);
  const work = mkdtempSync(join(tmpdir(), 'liaison-schema-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the checked-in docs/messages.md is what the schemas generate today (CI fails when it is stale)', () => {
    const ok = liaison('schema', 'doc', '--check', MESSAGES_DOC);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    // The check itself bites: one changed character makes it stale.
    const stale = join(work, 'messages.md');
    writeFileSync(stale, readFileSync(join(ROOT, MESSAGES_DOC), 'utf8').replace('| personal |', '| persona1 |'));
    const r = liaison('schema', 'doc', '--check', stale);
    expect(r.code).toBe(1);
    expect(r.err).toContain('npm run docs:messages');
  });

  it('every family type is described with its family, paragraphs and, per field, the sensitivity the runtime enforces', () => {
    expect(d.types.map((t) => t.name).sort()).toEqual([...catalog.types.keys()].sort());
    for (const t of d.types) {
      const info = catalog.get(t.name);
      expect(t.family).toBe(info.family);
      expect(t.paragraphs).toEqual(info.paragraphRefs);
      expect(t.fields.map((f) => [f.number, f.sensitivity])).toEqual(info.fields.map((f) => [f.number, f.sensitivity]));
    }
  });

  it('every type, field and enum value has a meaning written in its .proto comment (no blank row reaches people)', () => {
    const blank = [
      ...[...d.types, ...d.valueTypes].flatMap((t) => [...(t.meaning ? [] : [t.name]), ...t.fields.filter((f) => !f.meaning).map((f) => `${t.name}.${f.name}`)]),
      ...d.enums.flatMap((e) => [...(e.meaning ? [] : [e.name]), ...e.values.filter((v) => !v.meaning).map((v) => `${e.name}.${v.name}`)]),
    ];
    expect(blank).toEqual([]);
  });

  it('value types and enums used by family types are listed (a Person inside a PersonAlert is documented)', () => {
    expect(d.valueTypes.map((t) => t.name)).toContain('Person');
    const alert = d.types.find((t) => t.name === 'PersonAlert')!;
    const subject = alert.fields.find((f) => f.name === 'subject')!;
    expect(subject).toMatchObject({ type: 'Person', sensitivity: 'personal' });
    expect(d.enums.map((e) => e.name)).toContain('DocumentStatus');
  });

  it('`schema show TYPE -o json` prints the type; an unknown type is a usage error (exit 2) with the closest name', () => {
    const r = liaison('schema', 'show', 'PersonAlert', '-o', 'json');
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.out) as { name: string; fields: { name: string; sensitivity: string }[] };
    expect(shown.name).toBe('PersonAlert');
    expect(shown.fields.find((f) => f.name === 'basis')?.sensitivity).toBe('special');
    const typo = liaison('schema', 'show', 'DocumentRepot');
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('did you mean DocumentReport?');
    expect(typo.err).not.toMatch(/\n\s+at /); // no stack trace for a user's mistake
    expect(liaison('schema', 'list', '-o', 'yaml').code).toBe(2);
  });

  it('`schema list` prints one row per family type with its paragraphs', () => {
    const r = liaison('schema', 'list');
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n');
    expect(rows).toHaveLength(1 + catalog.types.size);
    expect(rows.find((l) => l.startsWith('DocumentReport ')) ?? '').toMatch(/documents\s+¶16,¶12\s+A lost, stolen/);
  });
});
