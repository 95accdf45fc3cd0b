import type { LiaisonClient } from '../../sdk/client/client.ts';
import { openPeeked, peek } from '../../sdk/client/peek.ts';
import { receiveCeiling } from '../../sdk/policy/index.ts';
import type { CliIo } from '../args.ts';

/** What the case registry tells a sender about a workflow step: a state change, or a refusal. */
const VERDICT_TYPES = ['WorkflowStateChange', 'WorkflowRejection'] as const;

/** How often the verdict is looked for while waiting. */
const POLL_MS = 250;

/** True when some agency observes `type` (a case registry): the message is a workflow step, decided after the send. */
export function isWorkflowStep(client: LiaisonClient, type: string): boolean {
  const policy = client.policy;
  return Object.keys(policy.agencies).some((a) => receiveCeiling(policy, a, type, 'observe') !== undefined);
}

type Verdict = { kind: 'refused' | 'applied'; body: Record<string, unknown>; by: string };

/** Look, without consuming, for the registry's notice caused by message `id` among the sender's own copies. */
async function findVerdict(client: LiaisonClient, id: string, cursors: Record<string, number> | undefined): Promise<{ verdict?: Verdict; cursors: Record<string, number> }> {
  const page = await peek(client.nc, client.id, { ...(cursors ? { cursors } : {}), types: [...VERDICT_TYPES] });
  for (const copy of page.copies) {
    let body: Record<string, unknown>;
    let type: string;
    let by: string;
    try {
      const m = openPeeked(client.openContext(), copy);
      [body, type, by] = [m.body, m.type, m.header.sender];
    } catch {
      continue; // not verifiable: never taken as a verdict
    }
    if (body.causeMessageId === id) return { verdict: { kind: type === 'WorkflowRejection' ? 'refused' : 'applied', body, by }, cursors: page.cursors };
  }
  return { cursors: page.cursors };
}

function describeRefusal(type: string, id: string, v: Verdict): string {
  const b = v.body;
  const state = typeof b.currentState === 'string' && b.currentState ? ` (case ${String(b.caseRef ?? '')} is ${b.currentState}` : '';
  const allowed = Array.isArray(b.allowedNow) && b.allowedNow.length ? `; allowed now: ${b.allowedNow.join(', ')}` : '';
  return `liaison: ${String(b.code ?? 'ERR_WORKFLOW_GUARD')}: the case registry ${v.by} refused ${type} ${id}: ${String(b.reason ?? '')}${state}${state ? `${allowed})` : ''}`;
}

/** Where the sender's notice consumers stood just before the send: the verdict is looked for after that. */
export interface VerdictWatch {
  cursors: Record<string, number>;
}

/**
 * Before a workflow step is sent: note where the sender's notice consumers stand, so the verdict is found even when
 * the agency's own integration acknowledges it first. Undefined when there is nothing to wait for (not a workflow
 * step, `waitMs` 0, or the sender receives no notices).
 */
export async function watchForVerdict(client: LiaisonClient, type: string, waitMs: number): Promise<VerdictWatch | undefined> {
  const receivable = new Set(client.consumerSpecs().map((c) => c.type));
  if (waitMs === 0 || !isWorkflowStep(client, type) || !VERDICT_TYPES.every((t) => receivable.has(t))) return undefined;
  // An exchange without the peek service (older) answers nothing: send all the same, without waiting.
  const page = await peek(client.nc, client.id, { fromNow: true, types: [...VERDICT_TYPES] }, 3_000).catch(() => undefined);
  return page ? { cursors: page.cursors } : undefined;
}

/**
 * After a workflow step is sent: wait up to `waitMs` for the case registry's verdict and say it at the terminal —
 * a refusal (e.g. ERR_WORKFLOW_NOT_A_PARTY) on stderr with exit 1, a state change on stdout with exit 0. Read through
 * the exchange's peek service, so the notice stays for the agency's own integration. No verdict in time: one line
 * on where it will arrive, exit 0 (the message was sent).
 */
export async function awaitCaseVerdict(o: { client: LiaisonClient; type: string; id: string; waitMs: number; io: CliIo; asDir: string; watch: VerdictWatch | undefined }): Promise<number> {
  if (!o.watch) return 0;
  const deadline = Date.now() + o.waitMs;
  let cursors: Record<string, number> | undefined = o.watch.cursors;
  for (;;) {
    const r = await findVerdict(o.client, o.id, cursors);
    cursors = r.cursors;
    if (r.verdict?.kind === 'refused') {
      o.io.err(describeRefusal(o.type, o.id, r.verdict));
      return 1;
    }
    if (r.verdict) {
      const b = r.verdict.body;
      o.io.out(`case ${String(b.caseRef)}: ${typeof b.fromState === 'string' && b.fromState ? b.fromState : '∅'} → ${String(b.toState)} (${String(b.transition)}, applied by ${r.verdict.by})`);
      return 0;
    }
    if (Date.now() >= deadline) break;
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
  o.io.err(`liaison: no verdict from the case registry within ${Math.round(o.waitMs / 1000)} s; it arrives as a WorkflowStateChange or WorkflowRejection to ${o.client.id} (liaison tail --as ${o.asDir} --type 'Workflow*')`);
  return 0;
}
