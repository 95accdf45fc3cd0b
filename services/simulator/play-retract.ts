import type { RetractOutcome } from '../sdk/client/retract.ts';
import { client, codeOf, expectThat, line, note, now, pause, refuse, sent, waitFor, type RunContext } from './context.ts';
import type { ScenarioEvent } from './scenario.ts';
import { resolveTemplate } from './template.ts';

type Retract = Extract<ScenarioEvent, { kind: 'retract' | 'correct' }>;

const noun = (e: Retract) => (e.kind === 'correct' ? 'correction' : 'retraction');

/** Ask the exchange to retract or correct; a refusal is told and counted (undefined then). */
async function askExchange(ctx: RunContext, e: Retract, id: string): Promise<(RetractOutcome & { correctedId?: string }) | undefined> {
  const c = client(ctx, e.as);
  const reason = e.reason ?? (e.kind === 'correct' ? 'corrected' : 'retracted');
  try {
    return e.kind === 'correct' ? await c.correct(id, resolveTemplate(e.body ?? {}, ctx.names, ctx.sim.now()), reason) : await c.retract(id, reason);
  } catch (err) {
    const { code, first } = codeOf(err);
    refuse(ctx, code);
    line(ctx, { from: e.as, to: 'exchange', type: noun(e), outcome: 'refused', detail: `${code} — ${first}` }, { code });
    expectThat(ctx, false, `${e.as} should be able to ${e.kind} ${e.message}: ${code}`);
    return undefined;
  }
}

/** Wait (up to 5 s) for every prior recipient's signed receipt; a line per recipient. */
async function tellReceipts(ctx: RunContext, e: Retract, id: string, out: RetractOutcome): Promise<void> {
  let status = out.record;
  const acked = () => status.recipients.every((r) => r.acknowledgedAt);
  for (let i = 0; i < 50 && !acked(); i++) {
    await pause(100);
    status = await client(ctx, e.as).retractionStatus(id);
  }
  for (const r of status.recipients) {
    line(ctx, { from: e.as, to: r.agency, type: 'Retraction', tier: 'operational', outcome: r.acknowledgedAt ? 'delivered' : 'refused', detail: r.acknowledgedAt ? 'handled; signed receipt returned' : 'NO RECEIPT' }, { id });
  }
  expectThat(ctx, acked(), `every prior recipient of ${e.message} should acknowledge its retraction (missing: ${status.recipients.filter((r) => !r.acknowledgedAt).map((r) => r.agency).join(', ')})`);
}

/** Retract or correct a named message; every prior recipient must acknowledge with a signed receipt. */
export async function playRetract(ctx: RunContext, e: Retract): Promise<void> {
  const id = ctx.names.get(e.message);
  if (!id) return expectThat(ctx, false, `${e.kind}: no message named "${e.message}" was sent before`);
  const caseRef = ctx.workflows?.cases().find((x) => x.applied.includes(id))?.ref;
  const out = await askExchange(ctx, e, id);
  if (!out) return;
  sent(ctx, e.as, noun(e), id);
  if (out.correctedId) {
    if (e.name) ctx.names.set(e.name, out.correctedId);
    sent(ctx, e.as, out.record.originalType, out.correctedId);
  }
  const replaced = out.correctedId ? `, replaced by ${out.correctedId}` : '';
  note(ctx, `${e.as} ${e.kind === 'correct' ? 'corrects' : 'retracts'} ${out.record.originalType} ${id}${replaced}: the exchange deleted ${out.record.copies.length} stored cop${out.record.copies.length === 1 ? 'y' : 'ies'}; ${out.record.recipients.length} prior recipient(s)${out.record.withheld.length ? `, ${out.record.withheld.length} never delivered` : ''}`);
  await tellReceipts(ctx, e, id, out);
  await expectAlertsSettled(ctx, e);
  if (e.expect.caseState) {
    const wf = ctx.workflows;
    const ok = await waitFor(() => wf?.cases().some((x) => x.ref === caseRef && x.state === e.expect.caseState && x.outbox.length === 0) ?? false);
    expectThat(ctx, ok, `after the ${noun(e)} of ${e.message}, its case should be ${e.expect.caseState} (is ${wf?.cases().find((x) => x.ref === caseRef)?.state ?? 'no case'})`);
  }
}

/** The centre's retractions and corrections of the correlation alerts that stood on a retracted message. */
async function expectAlertsSettled(ctx: RunContext, e: Retract): Promise<void> {
  const wanted = [...(e.expect.alertsRetracted ?? []).map((a) => [a, false] as const), ...(e.expect.alertsCorrected ?? []).map((a) => [a, true] as const)];
  if (wanted.length === 0) return;
  const centreId = ctx.centreAgency ?? '?';
  const inbox = ctx.inbox;
  const settled = (agency: string, corrected: boolean) =>
    inbox.find((r) => {
      if (r.agency !== agency || r.msg.type !== 'Retraction' || r.msg.header.sender !== centreId) return false;
      const alert = inbox.find((x) => x.agency === agency && x.msg.type === 'CorrelationAlert' && x.msg.header.id === r.msg.body.originalId);
      const replacedBy = String(r.msg.body.replacedBy ?? '');
      return !!alert && (corrected ? !!replacedBy && inbox.some((x) => x.agency === agency && x.msg.header.id === replacedBy) : !replacedBy);
    });
  await waitFor(() => wanted.every(([a, c]) => settled(a, c)));
  for (const [agency, corrected] of wanted) {
    const r = settled(agency, corrected);
    const ref = r ? String(inbox.find((x) => x.msg.header.id === r.msg.body.originalId)?.msg.body.alertReference ?? '') : '';
    line(ctx, {
      from: centreId,
      to: agency,
      type: 'Retraction',
      tier: r?.msg.header.tier,
      outcome: r ? 'delivered' : 'refused',
      detail: r ? `its correlation alert ${ref} ${corrected ? `corrected (replaced by ${String(r.msg.body.replacedBy)})` : 'withdrawn: no longer part of the link'}` : 'NOT DONE',
    });
    if (r) ctx.emit({ kind: 'centre-retraction', sim: now(ctx), to: agency, reference: ref, corrected });
    expectThat(ctx, !!r, `the centre should ${corrected ? 'correct' : 'retract'} ${agency}'s correlation alert after the ${noun(e)} of ${e.message}`);
  }
}
