import { basename } from 'node:path';
import type { ScenarioResult } from './collect.ts';
import { brokenByDraft, compareRuns, comparisonVerdict } from './compare.ts';
import { plainReason } from './events.ts';
import { REPORT_CSS } from './report-style.ts';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const PLACES: Record<string, string> = { broker: 'the broker (nats-server)', exchange: 'the exchange', scenario: 'the scenario', all: 'all agencies', '?': 'unknown sender' };

/** An agency's display name from the run (its id for a name the policy does not give). */
const nameOf = (r: ScenarioResult, id: string) => r.names[id] ?? PLACES[id] ?? id;

const tier = (t: string | undefined) => (t ? `<span class="tier t-${esc(t)}">${esc(t)}</span>` : '<span class="muted">—</span>');

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A result whose policy is named by its file name: a report never shows a local path. */
function named(r: ScenarioResult): ScenarioResult {
  return { ...r, policy: { ...r.policy, file: basename(r.policy.file) } };
}

/** The run's own outcome, or (compared) the draft's verdict first: a draft that breaks expectations is a failure. */
function verdict(r: ScenarioResult, other?: ScenarioResult): string {
  const own = r.failures.length === 0 ? 'All expectations held' : `${r.failures.length} expectation(s) failed`;
  const ownLine = `<p class="verdict ${r.failures.length === 0 ? 'ok' : 'fail'}">${esc(own)} under ${esc(r.policy.file)}.</p>`;
  const failures = r.failures.length ? `<ul>${r.failures.map((f) => `<li class="loss">${esc(f)}</li>`).join('')}</ul>` : '';
  if (!other) return ownLine + failures;
  const broken = brokenByDraft(r, other);
  return `<p class="verdict ${broken.length ? 'fail' : 'ok'}">${esc(comparisonVerdict(r, other))}</p>${ownLine}${failures}`;
}

const SHORT: Record<string, string> = { public: 'pub', operational: 'oper', personal: 'pers', special: 'spec' };

/** A tier in a matrix cell: its short name in its colour (the legend names them), its full name for screen readers. */
const short = (t: string | undefined) => (t ? `<span class="tier t-${esc(t)}" title="${esc(t)}" aria-label="${esc(t)}">${esc(SHORT[t] ?? t)}</span>` : '<span class="muted">—</span>');

/**
 * Who saw what: a row per message type, a column per agency (vertical names), each cell the tier of the
 * copy the agency received — types grow downwards, never sideways. Compared, each cell gained, lost or
 * at another tier is marked.
 */
function matrix(r: ScenarioResult, title: string, base?: ScenarioResult): string {
  const types = [...new Set([...Object.values(r.saw), ...(base ? Object.values(base.saw) : [])].flatMap((m) => Object.keys(m)))].sort();
  const cell = (a: string, t: string) => {
    const now = r.saw[a]?.[t];
    const was = base?.saw[a]?.[t];
    const change = !base || now === was ? '' : !was ? 'gain' : !now ? 'loss' : 'moved';
    const words = change === 'gain' ? 'gained' : change === 'loss' ? `lost (was ${was})` : change === 'moved' ? `was ${was}` : '';
    return `<td class="${change}"${words ? ` title="${esc(words)}"` : ''}>${short(now)}${words ? `<span class="sr">${esc(words)}</span>` : ''}</td>`;
  };
  return `<table class="matrix"><caption>${esc(title)}</caption><thead><tr><th scope="col">Type</th>${r.agencies.map((a) => `<th scope="col" class="agency">${esc(nameOf(r, a))}</th>`).join('')}</tr></thead><tbody>${types
    .map((t) => `<tr><th scope="row">${esc(t)}</th>${r.agencies.map((a) => cell(a, t)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const LEGEND = `<p class="muted">Tiers: ${Object.keys(SHORT).map((t) => `${short(t)} ${esc(t)}`).join(' · ')} · — nothing.</p>`;

/** The timeline, one table per step (the step's title once, as a heading); refusals in red with their reason in words. */
function timeline(r: ScenarioResult): string {
  const steps: { step: string; rows: ScenarioResult['events'] }[] = [];
  for (const e of r.events) {
    if (steps.at(-1)?.step !== e.step) steps.push({ step: e.step, rows: [] });
    steps.at(-1)!.rows.push(e);
  }
  return steps
    .map((s) => {
      const rows = s.rows.map((e) => {
        const bad = e.outcome === 'refused' || e.outcome === 'rejected';
        const fields = e.fields ? `<br><span class="muted">saw</span> ${esc(e.fields.seen.join(', ') || 'no field')}${e.fields.withheld.length ? `<br><span class="withheld">withheld: ${esc(e.fields.withheld.join(', '))}</span>` : ''}` : '';
        const why = bad && e.reason ? `<br><span class="reason">${esc(e.reason)}</span>` : '';
        return `<tr${bad ? ' class="bad"' : ''}><td class="when">${esc(e.sim)}</td><td>${esc(nameOf(r, e.from))} → ${esc(nameOf(r, e.to))}</td><td>${esc(e.type)}</td><td>${tier(e.tier)}</td><td><span class="outcome">${esc(e.outcome === 'info' ? 'notice' : e.outcome)}</span>${why}${bad ? '' : e.detail ? `<br><span class="muted">${esc(e.detail)}</span>` : ''}${fields}</td></tr>`;
      });
      return `<h3 class="step">${esc(s.step)}</h3><table><thead><tr><th scope="col">When</th><th scope="col">From → to</th><th scope="col">Type</th><th scope="col">Tier</th><th scope="col">What happened</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
    })
    .join('\n');
}

/** The comparison's detail: per agency and type, the tier under each policy; then the other differences. */
function changes(a: ScenarioResult, b: ScenarioResult): string {
  const rows: string[][] = [];
  for (const agency of [...new Set([...a.agencies, ...b.agencies])]) {
    for (const type of [...new Set([...Object.keys(a.saw[agency] ?? {}), ...Object.keys(b.saw[agency] ?? {})])].sort()) {
      const x = a.saw[agency]?.[type];
      const y = b.saw[agency]?.[type];
      if (x === y) continue;
      rows.push([esc(nameOf(b, agency)), esc(type), tier(x), tier(y), !x ? '<span class="gain">gains it</span>' : !y ? '<span class="loss">no longer sees it</span>' : 'another tier']);
    }
  }
  const other = compareRuns(a, b).filter((l) => l.startsWith('refusals ') || l.startsWith('expectation '));
  return `${rows.length ? table(['Agency', 'Type', `Under ${a.policy.file}`, `Under ${b.policy.file}`, 'Change'], rows) : '<p>No agency saw anything differently.</p>'}${other.length ? `<ul>${other.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}
${LEGEND}<div class="side">${matrix(a, `Under ${a.policy.file}`)}${matrix(b, `Under ${b.policy.file} (green: gained, red: lost)`, a)}</div>`;
}

function cases(r: ScenarioResult): string {
  if (!r.cases.length) return '<p>none</p>';
  return table(['Workflow', 'State', 'Requester → requested', 'Steps', 'Case'], r.cases.map((c) => [`${esc(c.workflow)} <span class="muted">(${esc(c.kind)})</span>`, `<b>${esc(c.state)}</b>`, `${esc(nameOf(r, c.requester))} → ${esc(nameOf(r, c.requested))}`, String(c.steps), `<span class="muted">${esc(c.ref)}</span>`]));
}

function correlations(r: ScenarioResult): string {
  if (!r.correlations.length) return '<p>none</p>';
  return table(['Told', 'Tier', 'Link on', 'Between'], r.correlations.map((c) => {
    const occ = Array.isArray(c.body.occurrences) ? (c.body.occurrences as Record<string, unknown>[]) : [];
    const between = [...new Set(occ.map((o) => String(o.agency ?? '')).filter(Boolean))].map((a) => nameOf(r, a));
    return [esc(nameOf(r, c.to)), tier(c.tier), `${esc(String(c.body.matchedKind ?? '').replace('ENTITY_KIND_', '').toLowerCase())} ${esc(c.body.matchedValue ?? '(withheld at this tier)')}`, esc(between.join(', '))];
  }));
}

function decisions(r: ScenarioResult): string {
  return table(['When', 'From', 'Type', 'To', 'Decision'], r.decisions.map((d) => [`<span class="when">${esc(d.at)}</span>`, esc(nameOf(r, d.from)), esc(d.type), esc(nameOf(r, d.to)), d.outcome === 'sent' ? esc(d.copies.map((c) => `${c.tier} copy to ${c.recipients.map((x) => nameOf(r, x)).join(', ')}`).join('; ')) : `<span class="loss">${esc(d.outcome.replace(/^refused (ERR_[A-Z_]+): .*$/, (_m, code: string) => `refused: ${plainReason(code)}`))}</span>`]));
}

/**
 * A self-contained, printable HTML report of a scenario run (no scripts, no external resources), drawn
 * like the console: the verdict first (a compared draft that breaks expectations is a failure, said
 * before anything else), agencies by name, the timeline by step with each copy's tier and the fields
 * seen and withheld, refusals in red with their reason in words, who saw what, cases, the centre's links
 * and the policy decisions. Policies are named by file name only; nothing scrolls sideways.
 */
export function renderReport(result: ScenarioResult, compared?: { other: ScenarioResult; diff: string[] }): string {
  const r = named(result);
  const other = compared ? named(compared.other) : undefined;
  const refusals = Object.entries(r.refusals).map(([code, n]) => [esc(plainReason(code)), String(n)]);
  const sections = [
    `<h1>${esc(r.title)}</h1>`,
    verdict(r, other),
    `<p>Policy <b>${esc(r.policy.name)}</b> (${esc(r.policy.file)}, <span class="muted">${esc(r.policy.hash.slice(0, 19))}…</span>). ${r.agencies.length} agencies; messages sent: ${r.sent}; copies received with verified signatures: ${r.verified}.</p>`,
    other ? `<h2>What changes under ${esc(other.policy.file)}</h2>${changes(r, other)}` : '',
    '<h2>Who saw what</h2><p>The tier of the copy each agency received of each type.</p>',
    LEGEND,
    matrix(r, 'Message type × agency'),
    '<h2>Refusals</h2>',
    refusals.length ? table(['Why, in plain words', 'Times'], refusals) : '<p>none</p>',
    '<h2>Timeline</h2>',
    timeline(r),
    '<h2>Cases</h2>',
    cases(r),
    '<h2>The multiagency centre’s links</h2>',
    correlations(r),
    '<h2>Policy decisions</h2>',
    decisions(r),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(r.title)} — Liaison scenario report</title>
<style>${REPORT_CSS}</style></head><body>
${sections.join('\n')}
<p class="muted"><small>Generated by Liaison (scenario ${esc(r.scenario)}). Metadata only: agencies, types, tiers and field names; values shown are the scenario’s synthetic data.</small></p>
</body></html>
`;
}
