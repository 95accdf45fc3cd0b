import type { LiaisonClient } from '../../sdk/client/client.ts';
import { openPeeked, peek } from '../../sdk/client/peek.ts';
import type { ReceivedMessage } from '../../sdk/envelope/open.ts';
import { asLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { int, str, type CliIo, type Command, type ParsedArgs } from '../args.ts';
import { connectAs } from '../connect.ts';
import { exportEnvelope } from '../../sdk/envelope/export.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How often a following (non-consuming) tail asks the exchange for new copies. */
export const TAIL_POLL_MS = 1_000;

/** `Document*` → a RegExp over type names (only `*` is special). */
function typePattern(pattern: string | undefined): RegExp | undefined {
  return pattern ? new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`) : undefined;
}

/** One printed line: a JSON object with `--json`, else a readable line. */
function render(m: ReceivedMessage, json: boolean): string {
  const line = { id: m.header.id, type: m.type, sender: m.header.sender, recipient: m.header.recipient, tier: m.header.tier, handling: m.header.handling, tlp: m.header.tlp, caseRef: m.header.caseRef || undefined, createdAt: m.header.createdAt.toISOString(), body: m.body };
  return json ? JSON.stringify(line) : `${line.createdAt} ${line.sender} → ${line.recipient} ${line.type} [${line.tier}] ${JSON.stringify(line.body)}`;
}

interface TailRun {
  client: LiaisonClient;
  io: CliIo;
  types: string[] | undefined;
  max: number | undefined;
  json: boolean;
  /** `--raw DIR`: also write each verified copy's raw files (see `liaison export`) under DIR/<sender>-<id>-<tier>. */
  raw: string | undefined;
}

/** Write one verified copy as raw files any tool can check (envelope, JWS parts, the sender's key, VERIFY.md). */
async function writeRaw(dir: string, data: Uint8Array, ctx: ReturnType<LiaisonClient['openContext']>): Promise<string> {
  const x = exportEnvelope(data, ctx.codec, ctx.keys);
  const where = join(dir, `${x.summary.sender}-${x.summary.id}-${x.summary.tier}`);
  await mkdir(where, { recursive: true });
  for (const [name, content] of Object.entries(x.files)) await writeFile(join(where, name), content);
  return where;
}

/**
 * The default: read what the agency's consumers would deliver through the exchange's peek service — the copies
 * still waiting after each consumer's ack floor, then new ones as they arrive — verify each as a delivery is
 * verified, and acknowledge nothing. The agency's integration still gets every copy; a second tail shows them again.
 */
async function peekTail(r: TailRun): Promise<number> {
  const ctx = () => r.client.openContext();
  let cursors: Record<string, number> | undefined;
  let count = 0;
  let stopped = false;
  void r.io.interrupted.then(() => (stopped = true));
  while (!stopped) {
    const page = await peek(r.client.nc, r.client.id, { ...(cursors ? { cursors } : {}), ...(r.types ? { types: r.types } : {}) });
    for (const copy of page.copies) {
      // Our own broadcasts come back on our broadcast consumers; the consuming loop skips them too.
      if (copy.subject.split('.')[5] === r.client.id) continue;
      try {
        r.io.out(render(openPeeked(ctx(), copy), r.json));
        if (r.raw) await writeRaw(r.raw, Buffer.from(copy.data, 'base64'), ctx());
      } catch (err) {
        const e = asLiaisonError(err, 'ERR_DECODE');
        r.io.err(`rejected ${e.code}: ${e.message} (${copy.subject})`);
        continue;
      }
      if (r.max !== undefined && ++count >= r.max) return 0;
    }
    cursors = page.cursors;
    if (!page.more) await Promise.race([r.io.interrupted, new Promise((res) => setTimeout(res, TAIL_POLL_MS))]);
  }
  return 0;
}

/** `--consume`: take the copies from the agency's durable consumers (acknowledged once printed), as its integration would. */
async function consumeTail(r: TailRun): Promise<number> {
  let count = 0;
  let finish!: () => void;
  const reachedMax = new Promise<void>((res) => (finish = res));
  await r.client.consume(
    (m) => {
      // Beyond --max: refuse (nak), so the copy stays pending for the next reader instead of being acknowledged unseen.
      if (r.max !== undefined && count >= r.max) throw new LiaisonError('ERR_USAGE', '--max reached');
      r.io.out(render(m, r.json));
      if (r.max !== undefined && ++count >= r.max) finish();
    },
    { ...(r.types ? { types: r.types } : {}), onReject: (x) => r.io.err(`rejected ${x.code}: ${x.reason} (${x.subject})`) },
  );
  await Promise.race([r.io.interrupted, reachedMax]);
  return 0;
}

/** `liaison tail`: an agency's verified messages, without consuming them unless `--consume`. */
export const tail: Command = {
  path: ['tail'],
  summary: "print an agency's verified messages without consuming them (its consumers stay as they were; --consume acknowledges what it prints); rejections on stderr with their code",
  usage: 'liaison tail --as AGENCY_DIR [--type PATTERN] [--json] [--max N] [--raw DIR | --consume]',
  options: { as: { type: 'string' }, type: { type: 'string' }, json: { type: 'boolean' }, max: { type: 'string' }, server: { type: 'string' }, consume: { type: 'boolean' }, raw: { type: 'string' } },
  required: ['as'],
  async run(args: ParsedArgs, io: CliIo) {
    const max = int(args, 'max', 1, 1_000_000);
    const raw = str(args, 'raw');
    if (raw !== undefined && args.values.consume === true) throw new LiaisonError('ERR_USAGE', '--raw writes what tail reads without consuming: drop --consume');
    const re = typePattern(str(args, 'type'));
    const client = await connectAs(args);
    try {
      const types = re ? client.consumerSpecs().map((c) => c.type).filter((t) => re.test(t)) : undefined;
      const run: TailRun = { client, io, types: types ? [...new Set(types)] : undefined, max, json: args.values.json === true, raw };
      return args.values.consume === true ? await consumeTail(run) : await peekTail(run);
    } finally {
      await client.close();
    }
  },
};
