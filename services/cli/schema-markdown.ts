import type { CatalogueDescription, EnumDescription, TypeDescription } from '../sdk/schema/describe.ts';

/** Where the checked-in catalogue lives, relative to the repository root. */
export const MESSAGES_DOC = 'docs/messages.md';

const TIERS_TEXT = [
  'Each field carries a **sensitivity**, the lowest copy tier that may carry it. An agency receives a type at a tier set',
  'by the policy (its ceiling) and sees exactly the fields at or below that tier; the others are withheld from its copy.',
  '',
  '| Tier | What it holds |',
  '|---|---|',
  '| public | may go to every member of the federation (training offers, aggregate figures) |',
  '| operational | law-enforcement data that identifies no person: document numbers, vessels, routes, case references |',
  '| personal | data of an identified or identifiable person: names, birth dates, nationalities, protection needs |',
  '| special | criminal-offence data and the basis of an alert, intelligence sources: central authorities and registries only |',
];

/** A table cell: pipes escaped, never empty. */
function cell(s: string): string {
  return (s || '—').replace(/\|/g, '\\|');
}

function anchor(name: string): string {
  return name.toLowerCase();
}

function fieldTable(t: TypeDescription): string[] {
  if (t.fields.length === 0) return ['No fields.'];
  return [
    '| # | Field | Type | Sensitivity | Meaning |',
    '|---|---|---|---|---|',
    ...t.fields.map((f) => `| ${f.number} | \`${f.name}\` | ${cell(f.type)} | ${f.sensitivity} | ${cell(f.meaning)} |`),
  ];
}

function typeSection(t: TypeDescription): string[] {
  const where = t.family ? [`Family \`${t.family}\` · resolution 6/3 ${t.paragraphs!.map((p) => `¶${p}`).join(', ')}`, ''] : [];
  return [`### ${t.name}`, '', ...where, t.meaning || '(no description in the schema)', '', ...fieldTable(t), ''];
}

function enumSection(e: EnumDescription): string[] {
  return [`### ${e.name}`, '', e.meaning || '(no description in the schema)', '', '| Value | Meaning |', '|---|---|', ...e.values.map((v) => `| \`${v.name}\` (${v.number}) | ${cell(v.meaning)} |`), ''];
}

/** The whole catalogue as Markdown (deterministic: the same schemas give the same bytes). */
export function catalogueMarkdown(d: CatalogueDescription): string {
  const byName = new Map(d.types.map((t) => [t.name, t]));
  const lines = [
    '# Message catalogue',
    '',
    '<!-- Generated from proto/liaison/v1/*.proto by `npm run docs:messages`; do not edit by hand (a test fails when it is stale). -->',
    '',
    `${d.types.length} message types in ${d.families.length} families. The same is printed by \`liaison schema list\` and \`liaison schema show TYPE\`.`,
    '',
    ...TIERS_TEXT,
    '',
    '## Families',
    '',
    '| Family | Types | Paragraphs |',
    '|---|---|---|',
    ...d.families.map((f) => {
      const paras = [...new Set(f.types.flatMap((t) => byName.get(t)?.paragraphs ?? []))].map((p) => `¶${p}`);
      return `| ${f.family} | ${f.types.map((t) => `[${t}](#${anchor(t)})`).join(', ')} | ${paras.join(', ')} |`;
    }),
    '',
  ];
  for (const f of d.families) {
    lines.push(`## ${f.family}`, '');
    for (const t of f.types) lines.push(...typeSection(byName.get(t)!));
  }
  lines.push('## Value types', '', 'Message types used inside the ones above. A nested field is carried at the higher of its own sensitivity and that of the field holding it.', '');
  for (const t of d.valueTypes) lines.push(...typeSection(t));
  lines.push('## Enumerations', '');
  for (const e of d.enums) lines.push(...enumSection(e));
  return `${lines.join('\n').trimEnd()}\n`;
}
