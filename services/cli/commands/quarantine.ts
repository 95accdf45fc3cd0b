import { listQuarantine, replayQuarantined, type ReplayResult, type ReplaySelection } from '../../sdk/client/quarantine-replay.ts';
import type { ListedCopy } from '../../sdk/client/quarantine-entry.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { str, type CliIo, type Command, type ParsedArgs } from '../args.ts';
import { connectAs } from '../connect.ts';

function line(c: ListedCopy): string {
  const count = c.deliveryCount === undefined ? '' : ` delivered ${c.deliveryCount}×`;
  const gone = c.available === false ? ' (original gone: cannot be replayed)' : '';
  return `  #${String(c.seq).padEnd(6)} ${c.at}  ${c.code.padEnd(16)} ${(c.sender ?? '?').padEnd(18)} ${c.id ?? '?'}  ${c.type ?? '?'}${count}${gone}`;
}

const quarantineList: Command = {
  path: ['quarantine', 'list'],
  summary: "what waits in this agency's quarantine: reason, sender, id, type, when, delivery count",
  usage: 'liaison quarantine list --as AGENCY_DIR [--replayed] [-o json] [--server URL]',
  options: { as: { type: 'string' }, replayed: { type: 'boolean' }, output: { type: 'string', short: 'o' }, server: { type: 'string' } },
  required: ['as'],
  async run(args, io) {
    const output = str(args, 'output');
    if (output !== undefined && output !== 'json') throw new LiaisonError('ERR_USAGE', `-o takes json only (usage: ${quarantineList.usage})`);
    const client = await connectAs(args);
    try {
      const entries = await listQuarantine(client, { replayed: args.values.replayed === true });
      if (output === 'json') io.out(JSON.stringify(entries));
      else {
        io.out(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in the quarantine of ${client.id}${args.values.replayed ? ' (replayed ones included)' : ' waiting'}`);
        for (const c of entries) io.out(`${line(c)}${c.replayed ? `  replayed ${c.replayed.at} (${c.replayed.outcome})` : ''}\n      ${c.reason}`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};

function selection(args: ParsedArgs): ReplaySelection {
  const id = str(args, 'id');
  const sender = str(args, 'sender');
  const reason = str(args, 'reason');
  const all = args.values.all === true;
  if (all && (id !== undefined || sender !== undefined)) throw new LiaisonError('ERR_USAGE', `give --all or --id with --sender, not both (usage: ${quarantineReplay.usage})`);
  if (all) return reason === undefined ? { all: true } : { all: true, code: reason };
  if (reason !== undefined) throw new LiaisonError('ERR_USAGE', `--reason goes with --all (usage: ${quarantineReplay.usage})`);
  if (id === undefined || sender === undefined) throw new LiaisonError('ERR_USAGE', `name the message with --id ID --sender AGENCY, or give --all (usage: ${quarantineReplay.usage})`);
  return { id, sender };
}

function report(io: CliIo, r: ReplayResult): void {
  for (const c of r.replayed) io.out(`replayed #${c.seq} ${c.code} ${c.sender} ${c.id}: re-delivered to the handler from ${c.from?.stream} seq ${c.from?.streamSeq}`);
  for (const c of r.alreadyHandled) io.out(`#${c.seq} ${c.sender} ${c.id} was handled since it was quarantined: marked replayed, not delivered again`);
  for (const s of r.skipped) io.err(`not replayed #${s.copy.seq} ${s.copy.sender ?? '?'} ${s.copy.id ?? '?'}: ${s.why}`);
  if (r.replayed.length === 0 && r.alreadyHandled.length === 0 && r.skipped.length === 0) io.err('nothing waiting in the quarantine matches');
}

const quarantineReplay: Command = {
  path: ['quarantine', 'replay'],
  summary: "hand quarantined (in-doubt or dead-lettered) messages to this agency's handler once more, once fixed",
  usage: 'liaison quarantine replay --as AGENCY_DIR (--id ID --sender AGENCY | --all [--reason CODE]) [--server URL]',
  options: { as: { type: 'string' }, id: { type: 'string' }, sender: { type: 'string' }, all: { type: 'boolean' }, reason: { type: 'string' }, server: { type: 'string' } },
  required: ['as'],
  async run(args, io) {
    const sel = selection(args);
    const client = await connectAs(args);
    try {
      const r = await replayQuarantined(client, sel);
      report(io, r);
      return r.replayed.length > 0 ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};

/** `liaison quarantine list|replay`: an agency's own quarantine, with its own rights only. */
export const QUARANTINE_COMMANDS: readonly Command[] = [quarantineList, quarantineReplay];
