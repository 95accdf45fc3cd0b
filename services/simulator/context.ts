import type { Centre } from '../centre/index.ts';
import type { RunningExchange } from '../exchange/exchange.ts';
import type { Registry } from '../registry/service.ts';
import type { LiaisonClient } from '../sdk/client/client.ts';
import type { OffsetClock } from '../sdk/clock.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { isLiaisonError, LiaisonError } from '../sdk/errors.ts';
import type { Catalog } from '../sdk/schema/index.ts';
import type { Workflows } from '../workflows/service.ts';
import type { ScenarioResult } from './collect.ts';
import { plainReason, type EventSink, type FieldsSeen } from './events.ts';
import type { TimelineEvent } from './timeline.ts';

/** A copy an agency (or a service acting for it) received and verified. */
export interface Received {
  agency: string;
  msg: ReceivedMessage;
}

/** What one scenario run shares between its steps: the federation it started and what it has seen. */
export interface RunContext {
  emit: EventSink;
  /** The run's throwaway directory. */
  work: string;
  catalog: Catalog;
  sim: OffsetClock;
  simStart: number;
  clients: Map<string, LiaisonClient>;
  /** Scenario names of messages → their header ids. */
  names: Map<string, string>;
  inbox: Received[];
  /** How much of `inbox` has been told as notices. */
  told: number;
  /** The current step's title. */
  step: string;
  /** Timeline lines emitted so far. */
  seq: number;
  /** The result folded so far (read-only for steps). */
  result: ScenarioResult;
  exchange?: RunningExchange;
  registry?: Registry;
  workflows?: Workflows;
  centre?: Centre;
  centreAgency?: string;
}

/** The simulated time as `day D HH:MM` from `ms` since the start. */
export function simTime(ms: number): string {
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return `day ${d} ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** The run's simulated time now. */
export function now(ctx: RunContext): string {
  return simTime(ctx.sim.now() - ctx.simStart);
}

/** Extra facts of a timeline line beyond what the terminal prints. */
export interface LineExtras {
  code?: string;
  fields?: FieldsSeen;
  id?: string;
}

/** Emit one timeline line (a refusal's code gets its reason in plain words). */
export function line(ctx: RunContext, e: TimelineEvent, extras: LineExtras = {}): void {
  ctx.emit({
    kind: 'message',
    seq: ++ctx.seq,
    sim: now(ctx),
    step: ctx.step,
    ...e,
    ...extras,
    ...(extras.code ? { reason: plainReason(extras.code) } : {}),
  });
}

/** Emit a line of commentary. */
export function note(ctx: RunContext, text: string): void {
  ctx.emit({ kind: 'note', sim: now(ctx), step: ctx.step, text });
}

/** Record an expectation: held or failed. */
export function expectThat(ctx: RunContext, ok: boolean, what: string): void {
  ctx.emit({ kind: 'expectation', sim: now(ctx), step: ctx.step, ok, what });
}

/** Count a refusal by its code. */
export function refuse(ctx: RunContext, code: string): void {
  ctx.emit({ kind: 'refusal', code, reason: plainReason(code) });
}

/** Count a published message. */
export function sent(ctx: RunContext, from: string, type: string, id?: string): void {
  ctx.emit({ kind: 'sent', from, type, ...(id ? { id } : {}) });
}

/** Poll `pred` every 15 ms until it holds or `ms` pass; its last value. */
export async function waitFor(pred: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 15));
  return pred();
}

/** Sleep `ms`. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The connected client of a scenario's agency. */
export function client(ctx: RunContext, id: string): LiaisonClient {
  const c = ctx.clients.get(id);
  if (!c) throw new LiaisonError('ERR_AGENCY_UNKNOWN', `the scenario names agency "${id}", which the policy does not list`, { agency: id });
  return c;
}

/** An error's code (ERR_INTERNAL for a non-Liaison error) and first line. */
export function codeOf(err: unknown): { code: string; first: string } {
  return { code: isLiaisonError(err) ? err.code : 'ERR_INTERNAL', first: (err as Error).message.split('\n')[0] ?? '' };
}
