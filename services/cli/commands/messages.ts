import { LiaisonError } from '../../sdk/errors.ts';
import { HANDLING_CODES, TLP_LABELS, type HandlingCode, type TlpLabel } from '../../sdk/tier.ts';
import { int, need, str, type Command } from '../args.ts';
import { BODY_OPTIONS, readBody } from '../body.ts';
import { connectAs } from '../connect.ts';
import { awaitCaseVerdict, watchForVerdict } from './send-verdict.ts';
import { tail } from './tail.ts';

/** How long `send` waits for the case registry's verdict on a workflow step by default. */
const DEFAULT_VERDICT_WAIT_MS = 10_000;


function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new LiaisonError('ERR_USAGE', `--${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

const send: Command = {
  path: ['send'],
  summary: 'sign and send a message as an agency (one projected copy per tier the policy needs)',
  usage: 'liaison send --as AGENCY_DIR --type TYPE (--body JSON | -f FILE) [--to ID] [--handling H0..H3] [--tlp LABEL] [--case REF] [--wait-ms MS]',
  options: {
    as: { type: 'string' },
    type: { type: 'string' },
    ...BODY_OPTIONS,
    to: { type: 'string' },
    handling: { type: 'string' },
    tlp: { type: 'string' },
    case: { type: 'string' },
    server: { type: 'string' },
    // A workflow step (a type a case registry observes): how long to wait for the registry's verdict (0: do not wait).
    'wait-ms': { type: 'string' },
  },
  required: ['as', 'type'],
  async run(args, io) {
    const body = await readBody(args);
    const handling = oneOf<HandlingCode>(str(args, 'handling'), HANDLING_CODES, 'handling');
    const tlp = oneOf<TlpLabel>(str(args, 'tlp'), TLP_LABELS, 'tlp');
    const waitMs = int(args, 'wait-ms', 0, 600_000) ?? DEFAULT_VERDICT_WAIT_MS;
    const client = await connectAs(args);
    try {
      const watch = await watchForVerdict(client, need(args, 'type'), waitMs);
      const r = await client.send(need(args, 'type'), body, { to: str(args, 'to'), handling, tlp, caseRef: str(args, 'case') });
      for (const c of r.copies) {
        io.out(`${r.id} ${c.tier.padEnd(11)} ${c.subject} → ${c.recipients.join(', ')} (${c.stream} #${c.seq}${c.duplicate ? ', duplicate' : ''})`);
      }
      // A refused workflow step (a non-party, a wrong state) is said here, with exit 1, not left to arrive unexplained later.
      return await awaitCaseVerdict({ client, type: need(args, 'type'), id: r.id, waitMs, io, asDir: need(args, 'as'), watch });
    } finally {
      await client.close();
    }
  },
};

export const MESSAGE_COMMANDS: Command[] = [send, tail];
