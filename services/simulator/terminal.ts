import { createCollector, emptyResult, type ScenarioResult } from './collect.ts';
import type { EventSink, SimEvent } from './events.ts';
import { createTimeline, type Timeline } from './timeline.ts';

const SERVICE_NOTE = {
  registry: '  — runs the ¶16 registry',
  cases: '  — runs the case registry (¶13–15 workflows)',
  centre: '  — runs the multiagency centre (¶17 correlation and reports)',
} as const;

/** The closing summary: counts, refusals, workflow outcomes, who saw what, then the expectations' verdict. */
export function printSummary(t: Timeline, r: ScenarioResult): void {
  t.step('Summary');
  t.note(`messages sent: ${r.sent}; copies received with their signatures verified: ${r.verified}`);
  t.note(`refusals: ${Object.entries(r.refusals).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  const byState = new Map<string, number>();
  for (const c of r.cases) byState.set(`${c.workflow} ${c.state}`, (byState.get(`${c.workflow} ${c.state}`) ?? 0) + 1);
  t.note(`workflow outcomes: ${[...byState].map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  if (r.correlations.length) t.note(`correlation alerts delivered: ${r.correlations.length}`);
  const types = [...new Set(Object.values(r.saw).flatMap((m) => Object.keys(m)))].sort();
  t.step('Who saw what (tier of the copy each agency received)');
  t.note(`${''.padEnd(17)} ${types.map((x) => x.slice(0, 14).padEnd(14)).join(' ')}`);
  for (const a of r.agencies) t.note(`${a.padEnd(17)} ${types.map((x) => (r.saw[a]?.[x] ?? '—').padEnd(14)).join(' ')}`);
  t.step(r.failures.length === 0 ? 'All expectations held.' : `${r.failures.length} expectation(s) failed:`);
  for (const f of r.failures) t.note(f);
}

/** One event as terminal lines. */
function render(t: Timeline, e: SimEvent, r: ScenarioResult): void {
  switch (e.kind) {
    case 'run-started':
      t.step(e.title);
      if (e.description) t.note(e.description.trim());
      t.note(`federation "${e.policy.name}" — exchange at ${e.exchange.url} (policy ${e.policy.hash.slice(0, 19)}…), ${e.exchange.streams} streams, ${e.exchange.consumers} durable consumers`);
      return;
    case 'agency-connected':
      t.note(`enrolled and connected ${e.id.padEnd(17)} ${e.country}  roles: ${e.roles.join(', ')}${e.service ? SERVICE_NOTE[e.service] : ''}`);
      return;
    case 'step':
      t.step(`[${e.sim}] ${e.title}`);
      return;
    case 'note':
      t.note(e.text);
      return;
    case 'message':
      t.event({ from: e.from, to: e.to, type: e.type, ...(e.tier !== undefined ? { tier: e.tier } : {}), outcome: e.outcome, ...(e.detail !== undefined ? { detail: e.detail } : {}) });
      return;
    case 'expectation':
      if (!e.ok) t.note(`EXPECTATION FAILED: ${e.what}`);
      return;
    case 'run-finished':
      printSummary(t, r);
      return;
    default:
      return;
  }
}

/**
 * The terminal face of a run: a line per timeline event as it happens, then the summary and who saw
 * what when the run finishes (folded from the same stream).
 */
export function terminalRenderer(out: (line: string) => void): EventSink {
  const t = createTimeline(out);
  const seen = createCollector(emptyResult({ name: '', title: '' }, '', ''));
  return (e) => {
    seen.sink(e);
    render(t, e, seen.result);
  };
}
