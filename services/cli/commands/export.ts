import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { explainMessage } from '../../audit/explain.ts';
import { createEnvelopeCodec } from '../../sdk/envelope/codec.ts';
import { exportEnvelope } from '../../sdk/envelope/export.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { directoryKey, trustPaths, verifyDirectory, type Ed25519PublicJwk } from '../../trust/index.ts';
import { need, str, type Command } from '../args.ts';
import { connectAdmin, ledgerEntries } from './audit.ts';

/** The root-verified directory of TRUST_DIR (the keys an export is checked against). */
async function trustedDirectory(dir: string) {
  const p = trustPaths(dir);
  const root = JSON.parse(await readFile(p.rootPub, 'utf8')) as Ed25519PublicJwk;
  return await verifyDirectory((await readFile(p.directory, 'utf8')).trim(), root);
}

const exportCmd: Command = {
  path: ['export'],
  summary: 'write a stored message as raw files any tool can verify: envelope bytes, JWS parts and JSON serialization, the sender\'s JWK and PEM, and the openssl/protoc commands',
  usage: 'liaison export --dir TRUST_DIR MSG_ID --from SENDER [--tier TIER] [--out DIR] [--server URL] [--plain]',
  options: { dir: { type: 'string' }, from: { type: 'string' }, tier: { type: 'string' }, out: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' } },
  required: ['dir', 'from'],
  allowPositionals: true,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name one message id (usage: ${exportCmd.usage})`);
    const dir = need(args, 'dir');
    const from = need(args, 'from');
    const tier = str(args, 'tier');
    const out = str(args, 'out') ?? `export-${from}-${id}`;
    const directory = await trustedDirectory(dir);
    const codec = createEnvelopeCodec(loadCatalog().envelopeTypes);
    const nc = await connectAdmin(dir, str(args, 'server'), args.values.plain === true);
    try {
      const [found] = explainMessage(await ledgerEntries(nc, io.err), id, from);
      const copies = (found?.copies ?? []).filter((c) => tier === undefined || c.tier === tier);
      if (copies.length === 0) {
        io.err(`the audit ledger has no ${tier ? `${tier} copy of ` : ''}message ${id} from ${from}`);
        return 1;
      }
      const jsm = await jetstreamManager(nc);
      let written = 0;
      for (const c of copies) {
        const stored = await jsm.streams.getMessage(c.stream, { seq: c.seq }).catch(() => undefined);
        if (!stored) {
          io.err(`${c.tier}: ${c.stream} #${c.seq} is no longer stored (retracted, or past the stream's retention)`);
          continue;
        }
        const x = exportEnvelope(stored.data, codec, (sender, kid) => directoryKey(directory, sender, kid));
        const where = copies.length > 1 ? join(out, c.tier) : out;
        await mkdir(where, { recursive: true });
        for (const [name, content] of Object.entries(x.files)) await writeFile(join(where, name), content);
        io.out(`${where}: ${x.summary.type} ${x.summary.id} from ${x.summary.sender}, ${x.summary.tier} copy, alg ${x.summary.alg}, signature ${x.verified ? 'verified' : 'DOES NOT VERIFY'} (see ${join(where, 'VERIFY.md')})`);
        written++;
      }
      return written === copies.length ? 0 : 1;
    } finally {
      await nc.close();
    }
  },
};

export const EXPORT_COMMANDS: readonly Command[] = [exportCmd];
