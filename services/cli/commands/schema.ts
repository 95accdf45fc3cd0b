import { readFileSync, writeFileSync } from 'node:fs';
import { LiaisonError } from '../../sdk/errors.ts';
import { closest } from '../../sdk/policy/issues.ts';
import { describeCatalogue, type CatalogueDescription, type TypeDescription } from '../../sdk/schema/describe.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { str, type Command, type ParsedArgs } from '../args.ts';
import { catalogueMarkdown, MESSAGES_DOC } from '../schema-markdown.ts';

const OUTPUT = { output: { type: 'string', short: 'o' } } as const;

/** `-o table|json` (default table). */
function outputOf(args: ParsedArgs): 'table' | 'json' {
  const o = str(args, 'output') ?? 'table';
  if (o !== 'table' && o !== 'json') throw new LiaisonError('ERR_USAGE', `-o/--output must be table or json, got "${o}"`);
  return o;
}

/** Left-aligned columns, the last one unpadded. */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function describe(): CatalogueDescription {
  return describeCatalogue(loadCatalog());
}

/** A type by short name, or a usage error with the closest name. */
function findType(d: CatalogueDescription, name: string): TypeDescription {
  const all = [...d.types, ...d.valueTypes];
  const t = all.find((x) => x.name === name) ?? all.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (t) return t;
  const hint = closest(name, all.map((x) => x.name));
  throw new LiaisonError('ERR_USAGE', `unknown message type "${name}"${hint ? ` (did you mean ${hint}?)` : ''}; \`liaison schema list\` lists them`, { type: name });
}

const list: Command = {
  path: ['schema', 'list'],
  summary: 'list the message types: family, paragraphs of resolution 6/3, meaning',
  usage: 'liaison schema list [-o table|json]',
  options: { ...OUTPUT },
  async run(args, io) {
    const out = outputOf(args);
    const d = describe();
    if (out === 'json') {
      io.out(JSON.stringify(d.types.map(({ fields, ...t }) => ({ ...t, fields: fields.length }))));
      return 0;
    }
    const rows = d.types.map((t) => [t.name, t.family!, t.paragraphs!.map((p) => `¶${p}`).join(','), t.meaning]);
    for (const line of columns([['TYPE', 'FAMILY', 'PARAGRAPHS', 'MEANING'], ...rows])) io.out(line);
    return 0;
  },
};

const show: Command = {
  path: ['schema', 'show'],
  summary: 'show one message type: each field with its sensitivity (tier) and meaning',
  usage: 'liaison schema show TYPE [-o table|json]',
  options: { ...OUTPUT },
  allowPositionals: true,
  async run(args, io) {
    const out = outputOf(args);
    if (args.positionals.length !== 1) throw new LiaisonError('ERR_USAGE', `give one message type (usage: ${show.usage})`);
    const t = findType(describe(), args.positionals[0]!);
    if (out === 'json') {
      io.out(JSON.stringify(t));
      return 0;
    }
    io.out(`${t.name}${t.family ? ` — family ${t.family}, resolution 6/3 ${t.paragraphs!.map((p) => `¶${p}`).join(', ')}` : ' — value type'}`);
    if (t.meaning) io.out(t.meaning);
    io.out('');
    for (const line of columns([['#', 'FIELD', 'TYPE', 'TIER', 'MEANING'], ...t.fields.map((f) => [String(f.number), f.name, f.type, f.sensitivity, f.meaning])])) io.out(line);
    return 0;
  },
};

const doc: Command = {
  path: ['schema', 'doc'],
  summary: `print the message catalogue as Markdown; --write FILE writes it, --check FILE exits 1 when FILE is stale (${MESSAGES_DOC})`,
  usage: 'liaison schema doc [--write FILE | --check FILE]',
  options: { write: { type: 'string' }, check: { type: 'string' } },
  async run(args, io) {
    const write = str(args, 'write');
    const check = str(args, 'check');
    if (write && check) throw new LiaisonError('ERR_USAGE', `give --write or --check, not both (usage: ${doc.usage})`);
    const md = catalogueMarkdown(describe());
    if (write) {
      writeFileSync(write, md);
      io.out(`wrote ${write}`);
      return 0;
    }
    if (check) {
      let current: string;
      try {
        current = readFileSync(check, 'utf8');
      } catch (err) {
        throw new LiaisonError('ERR_USAGE', `cannot read ${check}: ${(err as Error).message}`, { file: check });
      }
      if (current === md) return 0;
      io.err(`${check} is stale: the schemas changed since it was generated; run \`npm run docs:messages\``);
      return 1;
    }
    io.out(md.trimEnd());
    return 0;
  },
};

export const SCHEMA_COMMANDS: readonly Command[] = [list, show, doc];
