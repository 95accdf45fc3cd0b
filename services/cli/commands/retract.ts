import type { RetractionRecord, RetractOutcome } from '../../sdk/client/retract.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { str, type Command, type CliIo, type ParsedArgs } from '../args.ts';
import { BODY_OPTIONS, readBody } from '../body.ts';
import { connectAs } from '../connect.ts';

function messageId(args: ParsedArgs, usage: string): string {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name one message id (usage: ${usage})`);
  return id;
}


function printOutcome(io: CliIo, verb: string, o: RetractOutcome): void {
  const r = o.record;
  io.out(`${verb} ${r.originalId} (${r.originalType} of ${r.sender}, retracted ${r.retractedAt}): ${r.copies.length} cop${r.copies.length === 1 ? 'y' : 'ies'} deleted from the exchange`);
  for (const rec of r.recipients) io.out(`  ${rec.agency.padEnd(18)} ${rec.tier.padEnd(11)} ${o.sent[rec.agency] ? `retraction ${rec.retractionId} sent` : 'NOT SENT'}`);
  for (const f of o.failed) io.err(`  ${f.agency}: ${f.code}: ${f.reason}`);
  if (r.withheld.length) io.out(`  never delivered (deleted before they read it): ${r.withheld.join(', ')}`);
}

function printStatus(io: CliIo, r: RetractionRecord): number {
  io.out(`${r.originalId} (${r.originalType} of ${r.sender}) retracted ${r.retractedAt}${r.replacedBy ? `, replaced by ${r.replacedBy}` : ''}: ${r.reason}`);
  for (const rec of r.recipients) io.out(`  ${rec.agency.padEnd(18)} ${rec.acknowledgedAt ? `acknowledged ${rec.acknowledgedAt}` : 'not acknowledged'}`);
  if (r.withheld.length) io.out(`  never delivered: ${r.withheld.join(', ')}`);
  const open = r.recipients.filter((x) => !x.acknowledgedAt).length;
  io.out(`${r.recipients.length - open}/${r.recipients.length} acknowledged`);
  return 0;
}

const retract: Command = {
  path: ['retract'],
  summary: 'retract a message this agency sent: deleted from the exchange, every recipient told; --status: who has acknowledged',
  usage: 'liaison retract --as AGENCY_DIR MSG_ID (--reason TEXT | --status)',
  options: { as: { type: 'string' }, reason: { type: 'string' }, status: { type: 'boolean' }, server: { type: 'string' } },
  required: ['as'],
  allowPositionals: true,
  async run(args, io) {
    const id = messageId(args, retract.usage);
    const reason = str(args, 'reason');
    const status = args.values.status === true;
    if (status === (reason !== undefined)) throw new LiaisonError('ERR_USAGE', `give exactly one of --reason TEXT or --status (usage: ${retract.usage})`);
    const client = await connectAs(args);
    try {
      if (status) return printStatus(io, await client.retractionStatus(id));
      const o = await client.retract(id, reason!);
      printOutcome(io, 'retracted', o);
      return o.failed.length ? 1 : 0;
    } finally {
      await client.close();
    }
  },
};

const correct: Command = {
  path: ['correct'],
  summary: 'correct a message this agency sent: the corrected body goes out as a new message, the original is retracted',
  usage: 'liaison correct --as AGENCY_DIR MSG_ID (--body JSON | -f FILE) [--reason TEXT]',
  options: { as: { type: 'string' }, ...BODY_OPTIONS, reason: { type: 'string' }, server: { type: 'string' } },
  required: ['as'],
  allowPositionals: true,
  async run(args, io) {
    const id = messageId(args, correct.usage);
    const body = await readBody(args);
    const client = await connectAs(args);
    try {
      const o = await client.correct(id, body, str(args, 'reason'));
      io.out(`corrected ${id}: replaced by ${o.correctedId}`);
      printOutcome(io, 'retracted', o);
      return o.failed.length ? 1 : 0;
    } finally {
      await client.close();
    }
  },
};

/** `liaison retract` and `liaison correct`. */
export const RETRACT_COMMANDS: readonly Command[] = [retract, correct];
