import { expectThat, line, note, waitFor, type RunContext } from './context.ts';
import { tellNotices } from './notices.ts';
import type { ScenarioEvent } from './scenario.ts';

type ExpectCase = Extract<ScenarioEvent, { kind: 'expect-case' }>;
type ExpectCorrelation = Extract<ScenarioEvent, { kind: 'expect-correlation' }>;
type ExpectNotice = Extract<ScenarioEvent, { kind: 'expect-notice' }>;
type StrategicReport = Extract<ScenarioEvent, { kind: 'strategic-report' }>;

/** The case opened by a named message must reach a state (and counts of confirmed / waitlisted items). */
export async function playExpectCase(ctx: RunContext, e: ExpectCase): Promise<void> {
  const id = ctx.names.get(e.of);
  const find = () => ctx.workflows?.cases().find((c) => id !== undefined && c.applied.includes(id));
  const ok = await waitFor(() => {
    const c = find();
    if (!c || c.state !== e.state) return false;
    if (e.confirmed !== undefined && c.items.filter((i) => i.state === 'confirmed').length !== e.confirmed) return false;
    return e.waitlisted === undefined || c.items.filter((i) => i.state === 'waitlisted').length === e.waitlisted;
  });
  const c = find();
  const items = c?.items.length ? `; items: ${c.items.map((i) => `${i.agency} ${i.state}`).join(', ')}` : '';
  line(ctx, { from: 'mac-cases', to: 'scenario', type: `case of ${e.of}`, outcome: ok ? 'info' : 'refused', detail: c ? `${c.workflow}/${c.kind} is ${c.state}${items}` : 'no case' });
  expectThat(ctx, ok, `the case opened by ${e.of} must be ${e.state}${e.confirmed !== undefined ? ` with ${e.confirmed} confirmed` : ''}${e.waitlisted !== undefined ? ` and ${e.waitlisted} waitlisted` : ''} (is ${c?.state ?? 'absent'})`);
}

/** A CorrelationAlert from the centre must reach every listed agency. */
export async function playExpectCorrelation(ctx: RunContext, e: ExpectCorrelation): Promise<void> {
  const ok = await waitFor(() => e.agencies.every((a) => ctx.inbox.some((r) => r.agency === a && r.msg.type === 'CorrelationAlert')), 8_000);
  tellNotices(ctx);
  expectThat(ctx, ok, `a CorrelationAlert must reach ${e.agencies.join(' and ')}`);
}

/** A notice of a type must reach an agency, optionally about the case of a named message. */
export async function playExpectNotice(ctx: RunContext, e: ExpectNotice): Promise<void> {
  const id = e.about ? ctx.names.get(e.about) : undefined;
  const ref = id ? ctx.workflows?.cases().find((c) => c.applied.includes(id))?.ref : undefined;
  const ok = await waitFor(() => ctx.inbox.some((r) => r.agency === e.to && r.msg.type === e.type && (!e.about || r.msg.body.caseRef === ref)));
  tellNotices(ctx);
  expectThat(ctx, ok, `${e.to} must receive a ${e.type}${e.about ? ` about the case of ${e.about}` : ''}`);
}

/** The centre publishes its strategic report; each listed agency must receive it at its tier. */
export async function playStrategicReport(ctx: RunContext, e: StrategicReport): Promise<void> {
  if (!ctx.centre) return expectThat(ctx, false, 'a strategic report needs the multiagency centre (an agency keeping state: { kv: [correlations] })');
  const r = await ctx.centre.report({ publish: true });
  note(ctx, `the centre's report: ${r.figures.sourceMessages.count} source messages, ${r.figures.migrants.count} migrants reported, ${r.figures.linksTotal.count} new links; published as ${r.published ?? '(not published)'}`);
  const got = (agency: string) => ctx.inbox.find((x) => x.agency === agency && x.msg.type === 'StrategicReport' && x.msg.header.id === r.published);
  const ok = await waitFor(() => Object.keys(e.tiers).every((a) => got(a) !== undefined));
  for (const [agency, tier] of Object.entries(e.tiers)) {
    const copy = got(agency);
    line(ctx, { from: 'mac-centre', to: agency, type: 'StrategicReport', tier: copy?.msg.header.tier, outcome: copy ? 'delivered' : 'refused', detail: copy ? `${Object.keys(copy.msg.body).length} fields at ${copy.msg.header.tier}` : 'NOT DELIVERED' }, r.published ? { id: r.published } : {});
    expectThat(ctx, copy?.msg.header.tier === tier, `${agency} should receive the strategic report at the ${tier} tier (got ${copy?.msg.header.tier ?? 'nothing'})`);
  }
  expectThat(ctx, ok, 'the strategic report must reach every listed agency');
}
