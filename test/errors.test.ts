import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, LiaisonError, asLiaisonError, isLiaisonError } from '../services/sdk/errors.ts';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts') && !p.endsWith(join('sdk', 'errors.ts'))) out.push(p);
  }
  return out;
}

describe('error registry', () => {
  it('every code is a stable ERR_ identifier, unique, and documented with a sentence', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [code, doc] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z_]+$/);
      expect(doc.length, code).toBeGreaterThan(20);
      expect(doc.endsWith('.') || doc.endsWith(')'), code).toBe(true);
    }
  });

  it('every documented code is raised somewhere in services/ (no dead codes)', async () => {
    const root = join(import.meta.dirname, '../services');
    const text = (await Promise.all((await sources(root)).map((f) => readFile(f, 'utf8')))).join('\n');
    const unused = Object.keys(ERROR_CODES).filter((c) => !text.includes(`'${c}'`) && !text.includes(`"${c}"`) && !text.includes(c + ':'));
    expect(unused).toEqual([]);
  });

  it('LiaisonError carries code, details and a one-line form; asLiaisonError keeps the cause', () => {
    const e = new LiaisonError('ERR_DECODE', 'bad bytes', { at: 3 });
    expect(e.toLine()).toBe('ERR_DECODE: bad bytes');
    expect(isLiaisonError(e, 'ERR_DECODE')).toBe(true);
    expect(isLiaisonError(e, 'ERR_USAGE')).toBe(false);
    const cause = new Error('boom');
    const w = asLiaisonError(cause, 'ERR_CONNECT', 'connecting');
    expect(w.code).toBe('ERR_CONNECT');
    expect(w.message).toBe('connecting: boom');
    expect(w.cause).toBe(cause);
    expect(asLiaisonError(e, 'ERR_CONNECT')).toBe(e);
  });
});
