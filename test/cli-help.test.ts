import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../services/cli/args.ts';
import { COMMANDS } from '../services/cli/commands/index.ts';
import { EXAMPLES, optionText } from '../services/cli/help-text.ts';
import { ROOT, runBin } from './support/liaison-bin.ts';

/** Split an example command line into words (single and double quotes group, as a shell would). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe('liaison --help: every flag described, every command with examples that parse', () => {
  it('every flag of every command has a description', () => {
    const missing = COMMANDS.flatMap((c) => Object.keys(c.options).filter((k) => !optionText(c.path, k)).map((k) => `${c.path.join(' ')} --${k}`));
    expect(missing).toEqual([]);
  });

  it('every command has an example, and each example is accepted by that command’s own parser', () => {
    for (const c of COMMANDS) {
      const examples = EXAMPLES[c.path.join(' ')] ?? [];
      expect(examples.length, `${c.path.join(' ')} has no example`).toBeGreaterThan(0);
      for (const e of examples) {
        const argv = words(e.split(' > ')[0]!.split(' | ')[0]!);
        expect(argv.slice(0, 1 + c.path.length), e).toEqual(['liaison', ...c.path]);
        expect(() => parseCommandArgs(c, argv.slice(1 + c.path.length)), e).not.toThrow();
      }
    }
    // No example is kept for a command that no longer exists.
    const paths = new Set(COMMANDS.map((c) => c.path.join(' ')));
    expect(Object.keys(EXAMPLES).filter((p) => !paths.has(p))).toEqual([]);
  });

  it('`liaison help send` is `liaison send --help`: usage, each flag with its meaning, examples', async () => {
    const viaHelp = await runBin(['help', 'send']);
    const viaFlag = await runBin(['send', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.out).toBe(viaFlag.out);
    expect(viaHelp.out).toMatch(/--handling VALUE\s+SIENA handling code/);
    expect(viaHelp.out).toContain('Examples:\n  liaison send --as ');
  });

  it('`liaison --version` prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runBin(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^liaison ${pkg.version.replace(/\./g, '\\.')} \\(node \\d+`));
  });
});
