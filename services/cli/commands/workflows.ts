import { scaledClock } from '../../sdk/clock.ts';
import { createLogger } from '../../sdk/logging.ts';
import { startWorkflows } from '../../workflows/service.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { int, str, type Command, type ParsedArgs } from '../args.ts';
import { connectAs } from '../connect.ts';

const workflowsUp: Command = {
  path: ['workflows', 'up'],
  summary: 'run the case registry: tracks referrals, MLA, extradition, joint investigations and training as durable cases (¶13–15, ¶8)',
  usage:
    'liaison workflows up --as AGENCY_DIR [--speed N] [--tick-ms MS] [--concurrency N] [--cache-cases N] [--server URL] — the agency’s roles must observe the workflow types and keep state: { kv: [cases] }; ' +
    'run it twice for two replicas (they share the consumers and the bucket); --speed 86400 runs deadlines a simulated day per second; ' +
    '--concurrency: messages of each consumer applied at once, different cases in parallel and each case in order (default 32; 1: one at a time); ' +
    '--cache-cases: closed or idle cases kept in memory besides those with deadlines or notices pending (default 10000; others are read back from the bucket when named)',
  options: { as: { type: 'string' }, speed: { type: 'string' }, 'tick-ms': { type: 'string' }, concurrency: { type: 'string' }, 'cache-cases': { type: 'string' }, server: { type: 'string' } },
  required: ['as'],
  async run(args, io) {
    const logger = createLogger({ name: 'workflows' });
    const speed = int(args, 'speed', 1, 10_000_000) ?? 1;
    const concurrency = int(args, 'concurrency', 1, 1024);
    const tickMs = int(args, 'tick-ms', 10, 60_000) ?? 250;
    const cacheCases = int(args, 'cache-cases', 0, 10_000_000);
    const client = await connectAs(args, logger);
    const wf = await startWorkflows({
      client,
      logger,
      clock: speed === 1 ? undefined : scaledClock(speed),
      tickMs,
      ...(concurrency ? { concurrency } : {}),
      ...(cacheCases !== undefined ? { cacheCases } : {}),
    });
    io.out(`case registry up as ${client.id}: ${wf.cases().length} cases loaded; clock ×${speed}; Ctrl-C stops it`);
    await io.interrupted;
    await wf.stop();
    await client.close();
    io.out(`case registry stopped: ${JSON.stringify(wf.stats)}`);
    return 0;
  },
};

async function query(args: ParsedArgs, body: Record<string, unknown>) {
  const client = await connectAs(args);
  try {
    const reply = await client.request('CaseQuery', body);
    return { reply, cases: (reply.body.cases as Record<string, unknown>[] | undefined) ?? [] };
  } finally {
    await client.close();
  }
}

const at = (v: unknown) => (typeof v === 'string' ? v.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

const caseList: Command = {
  path: ['case', 'list'],
  summary: 'list the workflow cases this agency is a party to (or supervises)',
  usage: 'liaison case list --as AGENCY_DIR [--state S] [--kind K] [--workflow W] [--limit N] [--json]',
  options: {
    as: { type: 'string' },
    state: { type: 'string' },
    kind: { type: 'string' },
    workflow: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const { reply, cases } = await query(args, {
      state: str(args, 'state') ?? '',
      kind: str(args, 'kind') ?? '',
      workflow: str(args, 'workflow') ?? '',
      limit: int(args, 'limit', 1, 1000) ?? 0,
    });
    if (args.values.json) {
      io.out(JSON.stringify(reply.body));
      return 0;
    }
    if (cases.length === 0) io.out('no cases');
    for (const c of cases) {
      const next = c.nextDeadline ? `  next: ${String(c.nextDeadlineParty)} by ${at(c.nextDeadline)}` : '';
      io.out(`${String(c.caseRef)}  ${String(c.workflow)}${c.kind ? `/${String(c.kind)}` : ''}  ${String(c.state)}  ${String(c.requester)} → ${String(c.requested)}  updated ${at(c.updatedAt)}${next}`);
    }
    if (reply.body.truncated) io.out('… more cases match (use --limit)');
    io.out(`answered by ${reply.header.sender}, signed`);
    return 0;
  },
};

const caseShow: Command = {
  path: ['case', 'show'],
  summary: "a case's timeline: each transition, who caused it, when, signed by which key",
  usage: 'liaison case show --as AGENCY_DIR CASE_REF [--json]',
  options: { as: { type: 'string' }, json: { type: 'boolean' }, server: { type: 'string' } },
  required: ['as'],
  allowPositionals: true,
  async run(args, io) {
    const ref = args.positionals[0];
    if (!ref || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name one case (usage: ${caseShow.usage})`);
    const { reply, cases } = await query(args, { caseRef: ref });
    const c = cases[0];
    if (!c) {
      io.err(`no case ${ref} that ${reply.header.recipient} may see (not a party, or no such case)`);
      return 1;
    }
    if (args.values.json) {
      io.out(JSON.stringify(c));
      return 0;
    }
    const parties = [c.requester, c.requested, ...((c.participants as string[]) ?? [])].join(', ');
    io.out(`${String(c.caseRef)}  ${String(c.workflow)}${c.kind ? `/${String(c.kind)}` : ''}  state ${String(c.state)}  parties ${parties}${c.externalRef ? `  ref ${String(c.externalRef)}` : ''}`);
    if (c.nextDeadline) io.out(`next deadline: ${String(c.nextDeadlineParty)} by ${at(c.nextDeadline)}`);
    for (const s of (c.timeline as Record<string, unknown>[]) ?? []) {
      // An opening step has no state before it; the decoded body omits the empty fromState, so it is undefined here.
      const from = typeof s.fromState === 'string' && s.fromState !== '' ? s.fromState : '∅';
      const move = s.fromState === s.toState ? String(s.toState) : `${from} → ${String(s.toState)}`;
      const what = s.messageType ? `${String(s.messageType)} ${String(s.messageId)}` : 'deadline';
      io.out(`  ${at(s.appliedAt)}  ${String(s.transition).padEnd(18)} ${move.padEnd(30)} by ${String(s.actor)} (key ${String(s.signedBy)})  ${what}${s.note ? `  — ${String(s.note)}` : ''}`);
    }
    for (const i of (c.items as Record<string, unknown>[]) ?? []) {
      io.out(`  item ${String(i.ref)}  ${String(i.agency)}  ${String(i.state)}${i.position ? ` (#${String(i.position)})` : ''}`);
    }
    return 0;
  },
};

export const WORKFLOW_COMMANDS: readonly Command[] = [workflowsUp, caseList, caseShow];
