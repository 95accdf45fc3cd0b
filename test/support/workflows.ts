import { readFile } from 'node:fs/promises';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import type { Clock } from '../../services/sdk/clock.ts';
import type { ReceivedMessage } from '../../services/sdk/envelope/open.ts';
import { startWorkflows, type Workflows } from '../../services/workflows/service.ts';
import type { CaseRecord } from '../../services/workflows/model.ts';
import { EXAMPLE_POLICY, createTestFederation, type TestFederation } from './federation.ts';

/** Types the case registry sends to parties and supervisors. */
export const NOTICE_TYPES = ['WorkflowStateChange', 'WorkflowRejection', 'WorkflowReminder', 'WorkflowEscalation'];

/** A clock the test moves by hand (deadlines run on it). */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.now()) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** Wait until `pred` holds (polling; an async `pred` is awaited before the next poll), or fail after `ms`. */
export async function until(pred: () => boolean | Promise<boolean>, ms = 8_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Wait (up to 8 s) for the registry's WorkflowRejection of message `messageId`, as told to `who`, and return it. */
export async function rejectionOf(who: Party, messageId: string): Promise<Record<string, unknown>> {
  await until(() => who.notices('WorkflowRejection').some((r) => r.causeMessageId === messageId), 8_000, `rejection of ${messageId}`);
  return who.notices('WorkflowRejection').find((r) => r.causeMessageId === messageId)!;
}

/** A connected party with everything it received. */
export interface Party {
  client: LiaisonClient;
  inbox: ReceivedMessage[];
  /** Notices of one type (optionally about one case). */
  notices(type: string, caseRef?: string): Record<string, unknown>[];
}

/** The example policy plus agencies the workflow tests need as outsiders (a third central authority, a second institute, a third financial intelligence unit). */
export async function workflowPolicyText(): Promise<string> {
  const text = await readFile(EXAMPLE_POLICY, 'utf8');
  return text.replace(
    /\n  mac-cases: .*\n/,
    (line) =>
      `${line}  xc-prosecutor: { name: Corvenia Prosecution Service — Central Authority, country: XCC, roles: [prosecutor] }\n` +
      `  xd-training: { name: Second Police Academy, country: XCC, roles: [training-institute] }\n` +
      `  xc-fiu: { name: Corvenia Financial Intelligence Unit, country: XCC, roles: [fiu] }\n`,
  );
}

/** A federation with a running case registry (manual clock, deadline checks only on `tick()`) and connected parties. */
export interface WorkflowFixture {
  fed: TestFederation;
  clock: ManualClock;
  wf: Workflows;
  party(id: string): Party;
  caseOf(ref: string): CaseRecord | undefined;
  /** Wait for the case to reach a state (through the registry's mirror). */
  caseIn(ref: string, state: string): Promise<CaseRecord>;
  stop(): Promise<void>;
}

export async function startWorkflowFixture(name: string, agencies: string[], extraTypes: Record<string, string[]> = {}, policyText?: string): Promise<WorkflowFixture> {
  const fed = await createTestFederation({ agencies: ['mac-cases', ...agencies], name, policyText: policyText ?? (await workflowPolicyText()) });
  const clock = new ManualClock();
  const registryClient = await fed.connect('mac-cases');
  const wf = await startWorkflows({ client: registryClient, clock, tickMs: 0, unknownCaseRetries: 1, unknownCaseWaitMs: 1_000 });
  const parties = new Map<string, Party>();
  for (const id of agencies) {
    const client = await fed.connect(id);
    const inbox: ReceivedMessage[] = [];
    const receivable = new Set(client.consumerSpecs().map((s) => s.type));
    const types = [...NOTICE_TYPES, ...(extraTypes[id] ?? [])].filter((t) => receivable.has(t));
    if (types.length) await client.consume((m) => void inbox.push(m), { types });
    parties.set(id, {
      client,
      inbox,
      notices: (type, caseRef) => inbox.filter((m) => m.type === type && (!caseRef || m.body.caseRef === caseRef)).map((m) => m.body),
    });
  }
  const caseOf = (ref: string) => wf.cases().find((c) => c.ref === ref);
  return {
    fed,
    clock,
    wf,
    party: (id) => {
      const p = parties.get(id);
      if (!p) throw new Error(`no party ${id}`);
      return p;
    },
    caseOf,
    async caseIn(ref, state) {
      await until(() => caseOf(ref)?.state === state && caseOf(ref)!.outbox.length === 0, 8_000, `case ${ref} in state ${state} (now ${caseOf(ref)?.state})`);
      return caseOf(ref)!;
    },
    async stop() {
      await wf.stop();
      await fed.stop();
    },
  };
}
