import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SDK = resolve(import.meta.dirname, '../services/sdk');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file that resolve outside `root`. */
function importsOutside(file: string, root: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s+'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.filter((s) => relative(root, resolve(dirname(file), s)).startsWith('..'));
}

describe('architecture: the SDK owns verification and depends on nothing above it', () => {
  it('no file under services/sdk imports from services/trust, exchange or any other service', () => {
    const files = tsFiles(SDK);
    expect(files.length).toBeGreaterThan(30);
    const outside = files.flatMap((f) => importsOutside(f, SDK).map((s) => `${relative(SDK, f)} → ${s}`));
    expect(outside).toEqual([]);
  });

  it('the check sees an upward import (control)', () => {
    const probe = join(SDK, 'client', 'client.ts');
    expect(importsOutside(probe, join(SDK, 'client')).length).toBeGreaterThan(0);
  });
});
