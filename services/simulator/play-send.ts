import type { SendOptions } from '../sdk/envelope/seal.ts';
import type { Catalog, MessageInfo } from '../sdk/schema/index.ts';
import { fieldsAt } from '../sdk/schema/index.ts';
import type { Tier } from '../sdk/tier.ts';
import { client, codeOf, expectThat, line, note, now, pause, refuse, sent, waitFor, type Received, type RunContext } from './context.ts';
import type { FieldsSeen } from './events.ts';
import type { ScenarioEvent } from './scenario.ts';
import { resolveTemplate } from './template.ts';

type Send = Extract<ScenarioEvent, { kind: 'send' }>;
type Check = Extract<ScenarioEvent, { kind: 'check-document' }>;

/** The top-level fields a copy at `tier` carries and those withheld above it. */
export function fieldsOfCopy(info: MessageInfo, tier: Tier, body: Record<string, unknown>): FieldsSeen {
  const visible = new Set(fieldsAt(info, tier).filter((f) => !f.includes('.')));
  return { seen: Object.keys(body), withheld: info.fields.map((f) => f.jsonName).filter((f) => !visible.has(f)) };
}

function sendOptions(ctx: RunContext, e: Send): SendOptions {
  return {
    ...(e.to ? { to: e.to } : {}),
    ...(e.tlp ? { tlp: e.tlp } : {}),
    ...(e.handling ? { handling: e.handling } : {}),
    ...(e.caseRef ? { caseRef: e.caseRef } : {}),
    ...(e.causation ? { causationId: ctx.names.get(e.causation) ?? '' } : {}),
    ...(e.consent ? consentOf(ctx, e) : {}),
  };
}

/** The consent a send names: the DisseminationConsentResponse of that name as the sender received it (none when it did not). */
function consentOf(ctx: RunContext, e: Send): Pick<SendOptions, 'consent'> {
  const id = ctx.names.get(e.consent ?? '');
  const got = ctx.inbox.find((r) => r.agency === e.from && r.msg.header.id === id);
  return got ? { consent: { type: got.msg.type, header: got.msg.header, body: got.msg.body } } : {};
}

/** A send the scenario expects the sending SDK to refuse: nothing is published. */
async function playRefusedSend(ctx: RunContext, e: Send, body: Record<string, unknown>): Promise<void> {
  try {
    await client(ctx, e.from).send(e.type, body, sendOptions(ctx, e));
    sent(ctx, e.from, e.type);
    expectThat(ctx, false, `${e.from} sending ${e.type} should have been refused with ${e.expect.refused}`);
  } catch (err) {
    const { code, first } = codeOf(err);
    refuse(ctx, code);
    ctx.emit({ kind: 'decision', at: now(ctx), from: e.from, type: e.type, to: e.to ?? 'all', outcome: `refused ${code}: ${first}`, copies: [] });
    line(ctx, { from: e.from, to: e.to ?? 'all', type: e.type, outcome: 'refused', detail: `${code} by the sending SDK — ${first}` }, { code });
    expectThat(ctx, code === e.expect.refused, `${e.type} from ${e.from}: expected ${e.expect.refused}, got ${code}`);
  }
}

/** Each expected copy, delivered or not, as a timeline line naming the fields seen and withheld. */
function tellCopies(ctx: RunContext, e: Send, id: string, fresh: Received[], expected: { agency: string; tier: string }[], info: MessageInfo): void {
  for (const x of expected) {
    const got = fresh.find((r) => r.agency === x.agency && r.msg.header.id === id);
    const fields = got ? fieldsOfCopy(info, x.tier as Tier, got.msg.body) : undefined;
    const hidden = info.fields.length - fieldsAt(info, x.tier as Tier).filter((f) => !f.includes('.')).length;
    line(
      ctx,
      {
        from: e.from,
        to: x.agency,
        type: e.type,
        tier: x.tier,
        outcome: got ? 'delivered' : 'refused',
        detail: got ? `${Object.keys(got.msg.body).length} fields seen${hidden > 0 ? `, ${hidden} withheld above ${x.tier}` : ''}` : 'NOT DELIVERED',
      },
      { id, ...(fields ? { fields } : {}) },
    );
    expectThat(ctx, Boolean(got), `${x.agency} should receive ${e.type} from ${e.from}`);
  }
}

/** The send's expectations on tiers, withheld fields and agencies that must see nothing. */
async function checkSendExpectations(ctx: RunContext, e: Send, id: string, before: number): Promise<void> {
  const fresh = () => ctx.inbox.slice(before);
  for (const [agency, tier] of Object.entries(e.expect.tiers ?? {})) {
    const got = fresh().find((r) => r.agency === agency && r.msg.header.id === id);
    expectThat(ctx, got?.msg.header.tier === tier, `${agency} should see ${e.type} at the ${tier} tier (saw ${got?.msg.header.tier ?? 'nothing'})`);
  }
  for (const [agency, fields] of Object.entries(e.expect.withheld ?? {})) {
    const got = fresh().find((r) => r.agency === agency && r.msg.header.id === id);
    const leaked = fields.filter((f) => got && f in got.msg.body);
    expectThat(ctx, Boolean(got) && leaked.length === 0, `${agency}'s copy of ${e.type} must not carry ${fields.join(', ')}${leaked.length ? ` (carries ${leaked.join(', ')})` : ''}`);
  }
  if (e.expect.notSeen?.length) await pause(100);
  for (const agency of e.expect.notSeen ?? []) {
    const leaked = ctx.inbox.some((r) => r.agency === agency && r.msg.header.id === id);
    expectThat(ctx, !leaked, `${agency} must not see ${e.type}`);
    if (!leaked) note(ctx, `${agency} did not receive it (no permission on any of its subjects)`);
  }
}

/** The case registry's verdict on the send: a refusal with the expected code, or the case's new state. */
async function checkCaseExpectations(ctx: RunContext, e: Send, id: string): Promise<void> {
  if (e.expect.rejected) {
    const find = () => ctx.inbox.find((x) => x.agency === e.from && x.msg.type === 'WorkflowRejection' && x.msg.body.causeMessageId === id);
    const ok = await waitFor(() => find() !== undefined);
    const r = find();
    if (r) refuse(ctx, String(r.msg.body.code));
    expectThat(ctx, ok && r?.msg.body.code === e.expect.rejected, `the case registry should refuse ${e.type} from ${e.from} with ${e.expect.rejected} (got ${String(r?.msg.body.code ?? 'nothing')})`);
  }
  if (e.expect.caseState) {
    const wf = ctx.workflows;
    const ok = await waitFor(() => wf?.cases().some((c) => c.applied.includes(id) && c.state === e.expect.caseState && c.outbox.length === 0) ?? false);
    expectThat(ctx, ok, `${e.type} from ${e.from} should leave its case ${e.expect.caseState} (is ${wf?.cases().find((c) => c.applied.includes(id))?.state ?? 'no case'})`);
  }
}

/** Play a `send`: publish through the sender's SDK, then tell each copy and check the expectations. */
export async function playSend(ctx: RunContext, e: Send, catalog: Catalog): Promise<void> {
  const body = resolveTemplate(e.body, ctx.names, ctx.sim.now()) as Record<string, unknown>;
  if (e.expect.refused) return playRefusedSend(ctx, e, body);
  const before = ctx.inbox.length;
  const receipt = await client(ctx, e.from).send(e.type, body, sendOptions(ctx, e));
  sent(ctx, e.from, e.type, receipt.id);
  if (e.name) ctx.names.set(e.name, receipt.id);
  ctx.emit({ kind: 'decision', at: now(ctx), from: e.from, type: e.type, to: e.to ?? 'all', outcome: 'sent', copies: receipt.copies.map((c) => ({ tier: c.tier, recipients: c.recipients })) });
  const expected = receipt.copies.flatMap((c) => c.recipients.map((r) => ({ agency: r, tier: c.tier })));
  await waitFor(() => expected.every((x) => ctx.inbox.slice(before).some((r) => r.agency === x.agency && r.msg.header.id === receipt.id)));
  tellCopies(ctx, e, receipt.id, ctx.inbox.slice(before), expected, catalog.get(e.type));
  await checkSendExpectations(ctx, e, receipt.id, before);
  await checkCaseExpectations(ctx, e, receipt.id);
}

/** Play a `check-document`: a ¶16 registry request; the signed reply, and the owner's hit notice. */
export async function playCheck(ctx: RunContext, e: Check): Promise<void> {
  const before = ctx.inbox.length;
  const reply = await client(ctx, e.from).request('DocumentCheckRequest', { documentNumber: e.number, issuingCountry: e.country, ...(e.location ? { checkLocation: e.location } : {}) });
  const hit = reply.body.outcome === 'CHECK_OUTCOME_HIT';
  line(ctx, { from: reply.header.sender, to: e.from, type: 'DocumentCheckResult', tier: reply.header.tier, outcome: 'delivered', detail: hit ? `HIT — ${String(reply.body.status).replace('DOCUMENT_STATUS_', '').toLowerCase()}, signed reply bound to the request` : 'no hit' }, { id: reply.header.id });
  expectThat(ctx, hit === (e.expect.outcome === 'hit'), `checking ${e.country} ${e.number} should give ${e.expect.outcome}`);
  if (e.expect.notified) {
    const who = e.expect.notified;
    expectThat(ctx, await waitFor(() => ctx.inbox.slice(before).some((r) => r.agency === who && r.msg.type === 'DocumentHitNotice')), `${who} must receive the hit notice`);
  }
}
