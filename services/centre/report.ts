import type { MessageFacts } from './facts.ts';
import { practiceCatalogue, practiceField, type PracticeEntry } from './practices.ts';
import type { CorrelationStore, StoredEntity } from './store.ts';

/** One figure of a dimension: its count in the period, in the previous period, and the change. */
export interface FigureRow {
  label: string;
  count: number;
  previous: number;
  /** Change against `previous`, in percent, one decimal (100 when previous is 0 and count is not). */
  changePercent: number;
}

/** The dimensions a strategic report counts by. */
export const DIMENSIONS = ['route', 'nationality', 'documentType', 'month', 'modusOperandi', 'messageType'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The strategic picture for one period, before it becomes a StrategicReport. */
export interface StrategicFigures {
  agency: string;
  periodStart: number;
  periodEnd: number;
  generatedAt: number;
  sourceMessages: FigureRow;
  migrants: FigureRow;
  children: FigureRow;
  /** Values first held by two agencies (or cases) in the period, by entity kind. */
  links: FigureRow[];
  linksTotal: FigureRow;
  /** Each dimension's rows; `month` covers the 12 months up to the period end, each against the month before. */
  dimensions: Record<Dimension, FigureRow[]>;
  /** The good practices shared in the federation, newest first (¶11, ¶18): {@link practiceCatalogue}. */
  practices: PracticeEntry[];
}

/** Options of {@link buildFigures}. */
export interface FigureOptions {
  agency: string;
  /** End of the period (ms, exclusive). */
  periodEnd: number;
  /** Length of the period (default 30 days); the previous period is as long, just before. */
  periodMs?: number;
  now?: number;
}

/** Default report period: 30 days. */
export const DEFAULT_PERIOD_MS = 30 * 24 * 3_600_000;

function change(count: number, previous: number): number {
  if (previous === 0) return count === 0 ? 0 : 100;
  return Math.round(((count - previous) / previous) * 1000) / 10;
}

function row(label: string, count: number, previous: number): FigureRow {
  return { label, count, previous, changePercent: change(count, previous) };
}

function tally(cur: string[][], prev: string[][]): FigureRow[] {
  const c = new Map<string, number>();
  const p = new Map<string, number>();
  for (const labels of cur) for (const l of labels) c.set(l, (c.get(l) ?? 0) + 1);
  for (const labels of prev) for (const l of labels) p.set(l, (p.get(l) ?? 0) + 1);
  return [...c.keys()]
    .map((l) => row(l, c.get(l)!, p.get(l) ?? 0))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
}

const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

function monthRows(facts: MessageFacts[], end: number): FigureRow[] {
  const counts = new Map<string, number>();
  for (const f of facts) if (f.at < end) counts.set(monthOf(f.at), (counts.get(monthOf(f.at)) ?? 0) + 1);
  const endDate = new Date(end - 1);
  const out: FigureRow[] = [];
  for (let i = 11; i >= 0; i--) {
    const m = new Date(Date.UTC(endDate.getUTCFullYear(), endDate.getUTCMonth() - i, 1));
    const before = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() - 1, 1));
    const label = monthOf(m.getTime());
    const count = counts.get(label) ?? 0;
    if (count === 0 && out.length === 0) continue;
    out.push(row(label, count, counts.get(monthOf(before.getTime())) ?? 0));
  }
  return out;
}

/**
 * Count the facts of the period `[periodEnd - periodMs, periodEnd)` by route, nationality, document
 * type, month, modus operandi and message type, each against the previous period of the same
 * length; and the tactical links found in each.
 */
export function buildFigures(all: readonly MessageFacts[], entities: readonly StoredEntity[], o: FigureOptions): StrategicFigures {
  // A message its sender retracted no longer counts (its correction, if any, counts in its place).
  const facts = all.filter((f) => !f.retracted);
  const periodMs = o.periodMs ?? DEFAULT_PERIOD_MS;
  const start = o.periodEnd - periodMs;
  const prevStart = start - periodMs;
  const cur = facts.filter((f) => f.at >= start && f.at < o.periodEnd);
  const prev = facts.filter((f) => f.at >= prevStart && f.at < start);
  const sum = (fs: MessageFacts[], k: 'migrants' | 'children') => fs.reduce((n, f) => n + f[k], 0);
  const linked = (from: number, to: number) => entities.filter((e) => e.record.linkedAt !== undefined && e.record.linkedAt >= from && e.record.linkedAt < to);
  const curLinks = linked(start, o.periodEnd);
  const prevLinks = linked(prevStart, start);
  const kind = (e: StoredEntity) => [e.record.kind.replace('ENTITY_KIND_', '')];
  return {
    agency: o.agency,
    periodStart: start,
    periodEnd: o.periodEnd,
    generatedAt: o.now ?? o.periodEnd,
    sourceMessages: row('source messages', cur.length, prev.length),
    migrants: row('migrants reported', sum(cur, 'migrants'), sum(prev, 'migrants')),
    children: row('children reported', sum(cur, 'children'), sum(prev, 'children')),
    links: tally(curLinks.map(kind), prevLinks.map(kind)),
    linksTotal: row('tactical links', curLinks.length, prevLinks.length),
    dimensions: {
      route: tally(cur.map((f) => f.routes), prev.map((f) => f.routes)),
      nationality: tally(cur.map((f) => f.nationalities), prev.map((f) => f.nationalities)),
      documentType: tally(cur.map((f) => f.documentTypes), prev.map((f) => f.documentTypes)),
      month: monthRows(facts as MessageFacts[], o.periodEnd),
      modusOperandi: tally(cur.map((f) => f.modusOperandi), prev.map((f) => f.modusOperandi)),
      messageType: tally(cur.map((f) => [f.type]), prev.map((f) => [f.type])),
    },
    practices: practiceCatalogue(facts.filter((f) => f.at < o.periodEnd)),
  };
}

const signed = (n: number) => `${n > 0 ? '+' : ''}${n}%`;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Options of {@link reportBody}. */
export interface ReportBodyOptions {
  /**
   * Nationality and document-type counts below this are left out of the public indicators
   * (small-cell suppression, default 3); operational fields are not affected.
   */
  minPublicCount?: number;
  /** Rows per operational list (routes, modus operandi), default 10. */
  top?: number;
}

/**
 * The StrategicReport body for some figures. Public fields (title, summary, indicators,
 * recommendations, counts) hold aggregates only: message types, months, migrants, links by kind,
 * and document types and nationalities with small cells suppressed. Routes, modus operandi and the
 * network analysis are operational fields of the schema: the SDK leaves them out of the public copy
 * NGOs, return programmes and training institutes receive. No identifier, name or agency pair
 * appears anywhere in a report; the catalogue of good practices names the agency that shared each
 * (a public note it signed for everyone).
 */
export function reportBody(f: StrategicFigures, o: ReportBodyOptions = {}): Record<string, unknown> {
  const min = o.minPublicCount ?? 3;
  const top = o.top ?? 10;
  const indicator = (name: string, r: FigureRow) => ({ name, value: r.count, changePercent: r.changePercent });
  const suppressed = (rows: FigureRow[]) => rows.filter((r) => r.count < min).length;
  const hidden = suppressed(f.dimensions.nationality) + suppressed(f.dimensions.documentType);
  const indicators = [
    indicator(f.sourceMessages.label, f.sourceMessages),
    indicator(f.linksTotal.label, f.linksTotal),
    indicator(f.migrants.label, f.migrants),
    indicator(f.children.label, f.children),
    ...f.links.map((r) => indicator(`tactical links: ${r.label.toLowerCase()}`, r)),
    ...f.dimensions.messageType.map((r) => indicator(`messages: ${r.label}`, r)),
    ...f.dimensions.month.map((r) => indicator(`month: ${r.label}`, r)),
    ...f.dimensions.documentType.filter((r) => r.count >= min).map((r) => indicator(`document type: ${r.label}`, r)),
    ...f.dimensions.nationality.filter((r) => r.count >= min).map((r) => indicator(`nationality: ${r.label}`, r)),
  ];
  const routes = f.dimensions.route.slice(0, top).map((r) => {
    const [origin, ...rest] = r.label.split('>');
    const destination = rest.pop() ?? '';
    return { origin, transit: rest, destination, description: `${r.count} report(s) in the period (${signed(r.changePercent)} against the previous period)` };
  });
  const mo = f.dimensions.modusOperandi.slice(0, top).map((r) => `${r.label}: ${r.count} (${signed(r.changePercent)})`);
  const recommendations = [
    'Share interceptions and document findings with route, vessel and document data at the operational tier, so the centre can correlate them.',
  ];
  if (f.linksTotal.count > 0) recommendations.unshift('Agencies told of a tactical link should follow it up with the centre or the other agency, and consider a joint investigation (¶14).');
  if (f.sourceMessages.changePercent >= 25 && f.sourceMessages.count >= 5) recommendations.push('Reporting rose markedly: review frontline staffing and registry checks at the busiest crossing points.');
  const topRoute = f.dimensions.route[0];
  const routeTotal = f.dimensions.route.reduce((n, r) => n + r.count, 0);
  const analysis = [
    f.links.length ? `Tactical links found in the period by kind: ${f.links.map((r) => `${r.label.toLowerCase()} ${r.count}`).join(', ')}.` : 'No new tactical link in the period.',
    topRoute ? `The main route ${topRoute.label.replace(/>/g, ' → ')} accounts for ${Math.round((topRoute.count / routeTotal) * 100)}% of route reports.` : '',
  ].filter(Boolean);
  return {
    title: `Multiagency centre strategic report, ${day(f.periodStart)} to ${day(f.periodEnd - 1)}`,
    periodStart: new Date(f.periodStart).toISOString(),
    periodEnd: new Date(f.periodEnd).toISOString(),
    summary:
      `${f.sourceMessages.count} source messages in the period (${signed(f.sourceMessages.changePercent)} against the previous period); ` +
      `${f.linksTotal.count} new tactical link(s); ${f.migrants.count} migrants reported, of whom ${f.children.count} children.` +
      (hidden ? ` ${hidden} figure(s) under ${min} withheld.` : ''),
    indicators,
    routes,
    modusOperandiTrends: mo,
    recommendations,
    networkAnalysis: analysis.join(' '),
    sourceMessageCount: f.sourceMessages.count,
    practices: f.practices.map(practiceField),
  };
}

/** Build the figures and the StrategicReport body of a period from the correlation bucket. */
export async function composeReport(
  store: CorrelationStore,
  o: FigureOptions & ReportBodyOptions,
): Promise<{ figures: StrategicFigures; body: Record<string, unknown> }> {
  const [facts, entities] = await Promise.all([store.allFacts(), store.allEntities()]);
  const figures = buildFigures(facts, entities, o);
  return { figures, body: reportBody(figures, o) };
}
