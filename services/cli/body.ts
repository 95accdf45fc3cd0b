import { readFile } from 'node:fs/promises';
import { LiaisonError } from '../sdk/errors.ts';
import { str, type OptionSpec, type ParsedArgs } from './args.ts';

/**
 * How `send` and `correct` take a message body: `--body JSON`, or `-f/--file FILE` (`-` reads stdin).
 * `--json JSON` is the older name of `--body`, still accepted (elsewhere `--json` means JSON output).
 */
export const BODY_OPTIONS = {
  body: { type: 'string' },
  file: { type: 'string', short: 'f' },
  json: { type: 'string' },
} as const satisfies OptionSpec;

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The parsed JSON body; ERR_USAGE unless exactly one source is given, ERR_BODY_INVALID when it is not JSON. */
export async function readBody(args: ParsedArgs): Promise<unknown> {
  const given = (['body', 'json', 'file'] as const).filter((k) => str(args, k) !== undefined);
  if (given.length !== 1) throw new LiaisonError('ERR_USAGE', `give the body once: --body JSON or -f/--file FILE (- for stdin)${given.length ? `, not ${given.map((g) => `--${g}`).join(' and ')}` : ''}`);
  const source = given[0]!;
  const value = str(args, source)!;
  const [text, where] = source === 'file' ? [value === '-' ? await stdinText() : await readFile(value, 'utf8'), value === '-' ? 'stdin' : value] : [value, `--${source}`];
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LiaisonError('ERR_BODY_INVALID', `${where} is not valid JSON: ${(err as Error).message}`);
  }
}
