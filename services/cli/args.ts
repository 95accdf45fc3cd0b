import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LiaisonError } from '../sdk/errors.ts';
import { optionsOf } from './output.ts';

/** A command's options as `node:util` parseArgs describes them. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** One CLI command. */
export interface Command {
  /** Words after `liaison`, e.g. `['trust', 'init']`. */
  path: string[];
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Names of options that must be given. */
  required?: string[];
  allowPositionals?: boolean;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** Parsed options and positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Where a command writes; injected so tests capture output. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the user asks to stop (Ctrl-C); long-running commands await it. */
  interrupted: Promise<void>;
}

/** Parse argv for a command; unknown or missing options → ERR_USAGE naming them. */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...optionsOf(cmd), help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    throw new LiaisonError('ERR_USAGE', `${(err as Error).message.split('\n')[0]} (see liaison ${cmd.path.join(' ')} --help)`);
  }
  const values = parsed.values as ParsedArgs['values'];
  if (!values.help) {
    const missing = (cmd.required ?? []).filter((k) => values[k] === undefined);
    if (missing.length) {
      throw new LiaisonError('ERR_USAGE', `missing ${missing.map((m) => `--${m}`).join(', ')} (usage: ${cmd.usage})`);
    }
  }
  return { values, positionals: parsed.positionals };
}

/** A string option's value (undefined when absent). */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A required string option's value. */
export function need(args: ParsedArgs, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new LiaisonError('ERR_USAGE', `missing --${name}`);
  return v;
}

/** An integer option in [min, max]. */
export function int(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new LiaisonError('ERR_USAGE', `--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}
