import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLiaisonError } from '../sdk/errors.ts';
import { parseCommandArgs, type CliIo, type Command } from './args.ts';
import { COMMANDS } from './commands/index.ts';
import { EXAMPLES, optionText } from './help-text.ts';
import { optionsOf, outputFormat, yamlIo } from './output.ts';
import { watchStopSignals } from './signals.ts';

/** Errors that are the user's to fix in what they typed or configured: exit 2, like a usage error. */
const USAGE_CODES: ReadonlySet<string> = new Set(['ERR_USAGE', 'ERR_CONFIG_INVALID']);

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

/** A file the user named that cannot be opened: one line naming it (no stack trace), else undefined. */
function fileErrorLine(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e.code !== 'string' || typeof e.path !== 'string' || !(e.code in FILE_ERRORS)) return undefined;
  return `ERR_USAGE: cannot open ${e.path}: ${FILE_ERRORS[e.code]}`;
}

/** Exit codes: 0 ok (also a service stopped by SIGTERM/SIGINT within the bound), 1 failure (also a stop past the bound), 2 usage; 130 a second signal while stopping. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function helpText(commands: readonly Command[]): string {
  const lines = ['liaison — inter-agency information exchange (UN CTOC res. 6/3 ¶13–17)', '', 'Usage: liaison <command> [options]', ''];
  for (const c of commands) lines.push(`  ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  lines.push('', 'Run `liaison <command> --help` (or `liaison help <command>`) for its options and examples; `liaison --version`.', 'Exit status: 0 ok, 1 failure, 2 usage error.');
  return lines.join('\n');
}

function commandHelp(c: Command): string {
  const flags = Object.entries(optionsOf(c)).map(([k, o]) => ({
    flag: `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ' VALUE' : ''}${o.multiple ? ' …' : ''}`,
    text: optionText(c.path, k) ?? '',
  }));
  flags.push({ flag: '-h, --help', text: 'show this help' });
  const width = Math.max(...flags.map((f) => f.flag.length)) + 2;
  const examples = EXAMPLES[c.path.join(' ')] ?? [];
  return [
    `liaison ${c.path.join(' ')} — ${c.summary}`,
    '',
    `Usage: ${c.usage}`,
    '',
    'Options:',
    ...flags.map((f) => `  ${f.flag.padEnd(width)}${f.text}`),
    ...(examples.length ? ['', 'Examples:', ...examples.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

/** The package version (`liaison --version`). */
function version(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
  return `liaison ${pkg.version} (node ${process.versions.node})`;
}

/** The command `argv` names (longest path first), if any. */
function findCommand(commands: readonly Command[], argv: readonly string[]): Command | undefined {
  return [...commands].sort((a, b) => b.path.length - a.path.length).find((c) => c.path.every((w, i) => argv[i] === w));
}

/** Run the CLI on argv (without node and script); returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    io.out(version());
    return EXIT.ok;
  }
  // `liaison help send` is `liaison send --help`.
  if (argv[0] === 'help' && argv.length > 1) return await runCli([...argv.slice(1), '--help'], io, commands);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(helpText(commands));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const cmd = findCommand(commands, argv);
  if (!cmd) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    if (group.length && (argv.length === 1 || argv[1] === '--help')) {
      io.out(helpText(group));
      return argv[1] === '--help' ? EXIT.ok : EXIT.usage;
    }
    io.err(`liaison: ERR_USAGE: unknown command "${argv.slice(0, 2).join(' ')}" (see liaison --help)`);
    return EXIT.usage;
  }
  try {
    const args = parseCommandArgs(cmd, argv.slice(cmd.path.length));
    if (args.values.help) {
      io.out(commandHelp(cmd));
      return EXIT.ok;
    }
    return await cmd.run(args, outputFormat(cmd, args) === 'yaml' ? yamlIo(io) : io);
  } catch (err) {
    if (isLiaisonError(err)) {
      io.err(`liaison: ${err.toLine()}`);
      return USAGE_CODES.has(err.code) ? EXIT.usage : EXIT.failure;
    }
    const file = fileErrorLine(err);
    if (file) {
      io.err(`liaison: ${file}`);
      return EXIT.usage;
    }
    io.err(`liaison: ERR_INTERNAL: ${(err as Error)?.stack ?? String(err)}`);
    return EXIT.failure;
  }
}

/** The process entry point: runs the CLI on process.argv and sets the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  // `liaison … | head`: a closed pipe ends the command quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  // SIGTERM/SIGINT: a long-running command stops cleanly and returns 0, within STOP_BOUND_MS (else exit 1, ERR_STOP_TIMEOUT).
  const interrupted = watchStopSignals({ err: (l) => process.stderr.write(`${l}\n`), exit: (code) => process.exit(code) });
  const code = await runCli(argv, {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    interrupted,
  });
  process.exitCode = code;
  // Long-lived handles (NATS sockets) are closed by the commands; don't wait on stragglers.
  setTimeout(() => process.exit(code), 200).unref();
}

if (import.meta.main) await main();
