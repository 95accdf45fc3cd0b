import { stringify } from 'yaml';
import { LiaisonError } from '../sdk/errors.ts';
import type { CliIo, Command, OptionSpec, ParsedArgs } from './args.ts';

/** `-o/--output` formats: text (the default, tables and sentences), json (one JSON value per line), yaml (one YAML document each). */
export type OutputFormat = 'text' | 'json' | 'yaml';

const FORMATS: Readonly<Record<string, OutputFormat>> = { text: 'text', table: 'text', json: 'json', yaml: 'yaml' };

/**
 * The options a command is parsed with: every command that can print JSON (`--json`) also takes
 * `-o/--output text|table|json|yaml`, as kubectl's and nats' commands do; `--json` stays as `-o json`.
 */
export function optionsOf(cmd: Command): OptionSpec {
  const json = cmd.options.json;
  if (!json || json.type !== 'boolean' || 'output' in cmd.options) return cmd.options;
  return { ...cmd.options, output: { type: 'string', short: 'o' } };
}

/** Read `-o` for a command that got it from {@link optionsOf}: sets `json` for json and yaml; ERR_USAGE for any other value. */
export function outputFormat(cmd: Command, args: ParsedArgs): OutputFormat {
  if ('output' in cmd.options) return 'text'; // the command reads its own -o
  const o = args.values.output;
  if (o === undefined) return args.values.json === true ? 'json' : 'text';
  const f = typeof o === 'string' ? FORMATS[o] : undefined;
  if (!f) throw new LiaisonError('ERR_USAGE', `-o/--output must be text, table, json or yaml, got ${JSON.stringify(o)}`);
  if (f !== 'text') args.values.json = true;
  return f;
}

/** The command's stdout as YAML documents: each JSON line it prints becomes one `---` document (other lines pass through). */
export function yamlIo(io: CliIo): CliIo {
  return {
    ...io,
    out: (line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        io.out(line);
        return;
      }
      io.out(`---\n${stringify(value).trimEnd()}`);
    },
  };
}
