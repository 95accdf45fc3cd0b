import type { QuarantineCounts } from '../../../services/sdk/client/quarantine-entry.ts';
import type { ClientAccount, ServiceAccount } from './accounting.ts';
import { slope, summarise, type Summary } from './stats.ts';

/** One sample of the soak, every few seconds. */
export interface SoakSample {
  /** Seconds since the load started (negative before it). */
  t: number;
  phase: string;
  /** RSS per process, MB. */
  rss: Record<string, number>;
  /** Backlog (pending + unacknowledged) per receiver: `agency` or `agency rK`. */
  backlog: Record<string, number>;
  /** The same per durable consumer with any backlog, `stream/consumer` → pending + unacknowledged (redelivered). */
  consumers: Record<string, string>;
  e2e: Summary;
  checks: Summary;
  checkFailed: number;
}

/** Per phase: its span, latencies, and per process the RSS slope (second half) and per receiver the backlog trend. */
export interface PhaseFigures {
  name: string;
  from: number;
  to: number;
  e2e: Summary;
  checks: Summary;
  checkFailed: number;
  /** MB per minute, least squares over the second half of the phase. */
  rssSlope: Record<string, number>;
  rssLast: Record<string, number>;
  /** Messages per minute, least squares over the phase. */
  backlogSlope: Record<string, number>;
  backlogLast: Record<string, number>;
}

const round = (v: number, d = 1) => (Number.isFinite(v) ? Math.round(v * 10 ** d) / 10 ** d : NaN);

/** The figures of one phase from the samples within [from, to) seconds and the latencies the agencies reported in it. */
export function phaseFigures(name: string, from: number, to: number, samples: readonly SoakSample[], lat: { e2e: number[]; checks: number[]; checkFailed: number }): PhaseFigures {
  const inPhase = samples.filter((s) => s.t >= from && s.t < to);
  const end = Number.isFinite(to) ? to : (inPhase.at(-1)?.t ?? from);
  const secondHalf = inPhase.filter((s) => s.t >= (from + end) / 2);
  const names = new Set(inPhase.flatMap((s) => Object.keys(s.rss)));
  const receivers = new Set(inPhase.flatMap((s) => Object.keys(s.backlog)));
  const rssSlope: Record<string, number> = {};
  const rssLast: Record<string, number> = {};
  for (const n of names) {
    const pts = secondHalf.filter((s) => s.rss[n] !== undefined);
    rssSlope[n] = round(slope(pts.map((s) => s.t / 60), pts.map((s) => s.rss[n]!)), 2);
    rssLast[n] = inPhase.findLast((s) => s.rss[n] !== undefined)?.rss[n] ?? NaN;
  }
  const backlogSlope: Record<string, number> = {};
  const backlogLast: Record<string, number> = {};
  for (const r of receivers) {
    const pts = inPhase.filter((s) => s.backlog[r] !== undefined);
    backlogSlope[r] = round(slope(pts.map((s) => s.t / 60), pts.map((s) => s.backlog[r]!)), 0);
    backlogLast[r] = pts.at(-1)?.backlog[r] ?? NaN;
  }
  return { name, from, to, e2e: summarise(lat.e2e), checks: summarise(lat.checks), checkFailed: lat.checkFailed, rssSlope, rssLast, backlogSlope, backlogLast };
}

/** Everything the soak measured, as written to its JSON file. */
export interface SoakResult {
  flags: Record<string, unknown>;
  phases: PhaseFigures[];
  clients: ClientAccount;
  services: ServiceAccount[];
  checks: { answered: number; failed: number; hits: number };
  deadLettered: number;
  quarantine: Record<string, QuarantineCounts>;
  stops: { name: string; code: number | null; signal: string | null; ms: number }[];
  drain: { seconds: number; backlogLeft: number };
  samples: SoakSample[];
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The human summary: per phase latencies, RSS and backlog per process; then lost, twice, dead-lettered. */
export function renderReport(r: SoakResult): string {
  const lines: string[] = [];
  for (const p of r.phases) {
    lines.push(`\n== phase ${p.name} (${p.from}–${Number.isFinite(p.to) ? p.to : 'end'} s) ==`);
    lines.push(`end to end (created_at → agency handler): n ${p.e2e.n}, p50 ${p.e2e.p50} ms, p99 ${p.e2e.p99} ms;  checks: n ${p.checks.n}, p50 ${p.checks.p50} ms, p99 ${p.checks.p99} ms, failed ${p.checkFailed}`);
    lines.push(`${'process'.padEnd(26)}${pad('RSS MB', 9)}${pad('MB/min', 9)}   (slope over the phase's second half)`);
    for (const [n, v] of Object.entries(p.rssLast)) lines.push(`${n.padEnd(26)}${pad(v, 9)}${pad(p.rssSlope[n] ?? NaN, 9)}`);
    lines.push(`${'receiver (its consumers)'.padEnd(26)}${pad('backlog', 9)}${pad('msg/min', 9)}   (pending + unacknowledged; trend over the phase)`);
    for (const [n, v] of Object.entries(p.backlogLast)) if (v > 0 || (p.backlogSlope[n] ?? 0) !== 0) lines.push(`${n.padEnd(26)}${pad(v, 9)}${pad(p.backlogSlope[n] ?? NaN, 9)}`);
  }
  const c = r.clients;
  lines.push('\n== accounting ==');
  lines.push(`sent and acknowledged: ${Object.entries(c.sent).map(([t, n]) => `${n} ${t}`).join(', ')}; not acknowledged ${c.sendFailed} (of which delivered all the same ${c.sendFailedDelivered})`);
  lines.push(
    `agency clients: ${c.expectedCopies} copies expected; not handled ${c.missing}, of which in their quarantine ${JSON.stringify(c.quarantined)} and still in their backlog ${c.backlog}: lost ${c.lost}; handled twice ${c.twice}; unexpected ${c.unexpected}`,
  );
  if (c.missingExamples.length) lines.push(`  not handled, e.g. ${c.missingExamples.join('; ')}`);
  if (c.unexpectedExamples.length) lines.push(`  unexpected, e.g. ${c.unexpectedExamples.join('; ')}`);
  for (const s of r.services) lines.push(`${s.service.padEnd(16)} ${s.what}: offered ${s.offered}, handled ${s.handled}, backlog at stop ${s.backlog}, lost ${s.lost}, extra ${s.extra}`);
  lines.push(`  (offered counts acknowledged sends; an unacknowledged send that was stored all the same is handled as extra: ${JSON.stringify(c.sendFailedByType)} not acknowledged)`);
  lines.push(`checks: ${r.checks.answered} answered (${r.checks.hits} hits), ${r.checks.failed} failed`);
  lines.push(`dead-lettered: ${r.deadLettered}; quarantine: ${JSON.stringify(r.quarantine)}`);
  lines.push(`drain: ${r.drain.seconds} s, backlog left ${r.drain.backlogLeft}`);
  lines.push(`stops: ${r.stops.map((s) => `${s.name} ${s.code ?? s.signal} in ${s.ms} ms`).join('; ')}`);
  return lines.join('\n');
}
