import { readFile } from 'node:fs/promises';
import { startGateway } from '../../gateway/server.ts';
import { createToken, parseScopes, readTokens, revokeToken, tokenFilePath, type StoredToken } from '../../gateway/tokens.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/logging.ts';
import { int, need, str, type Command, type ParsedArgs } from '../args.ts';
import { connectAs } from '../connect.ts';

/** The TLS certificate and key of `--tls-cert` / `--tls-key` (both or neither). */
async function tlsOf(args: ParsedArgs): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  const cert = str(args, 'tls-cert');
  const key = str(args, 'tls-key');
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new LiaisonError('ERR_USAGE', 'give both --tls-cert and --tls-key');
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new LiaisonError('ERR_TLS', `cannot read the gateway's TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path }, { cause: err });
    }
  };
  return { cert: await read(cert, 'certificate'), key: await read(key, 'key') };
}

/** The port `gateway up` listens on without --port. */
export const DEFAULT_GATEWAY_PORT = 8080;

const gatewayUp: Command = {
  path: ['gateway', 'up'],
  summary: 'serve an agency over plain HTTP (X-Road style): its systems send, receive and acknowledge; the gateway signs, verifies and enforces',
  usage:
    'liaison gateway up --as AGENCY_DIR [--port N] [--host H] [--tls-cert FILE --tls-key FILE] [--max-readers N] [--max-readers-per-token N] [--server URL] — 127.0.0.1:8080 by default; ' +
    'any other address needs --tls-cert and --tls-key; every call needs an API token (liaison gateway token create)',
  options: {
    as: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-readers': { type: 'string' },
    'max-readers-per-token': { type: 'string' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const tls = await tlsOf(args);
    const logger = createLogger({ name: 'gateway' });
    const client = await connectAs(args, logger);
    let gateway;
    try {
      gateway = await startGateway({
        client,
        agencyDir: need(args, 'as'),
        logger,
        host: str(args, 'host'),
        port: int(args, 'port', 0, 65_535) ?? DEFAULT_GATEWAY_PORT,
        tls,
        maxReaders: int(args, 'max-readers', 1, 100_000),
        maxReadersPerToken: int(args, 'max-readers-per-token', 1, 100_000),
      });
    } catch (err) {
      await client.close();
      throw err;
    }
    io.out(`gateway up as ${client.id} at ${gateway.url} (API reference ${gateway.url}/docs, OpenAPI ${gateway.url}/openapi.json); Ctrl-C stops it`);
    await io.interrupted;
    await gateway.close();
    io.out('gateway stopped; unacknowledged messages stay in the exchange');
    return 0;
  },
};

const tokenCreate: Command = {
  path: ['gateway', 'token', 'create'],
  summary: 'make an API token for the gateway with the given scopes (only its SHA-256 is stored; the token is shown once)',
  usage: 'liaison gateway token create --as AGENCY_DIR --scopes send,receive,check,retract,policy [--label TEXT]',
  options: { as: { type: 'string' }, scopes: { type: 'string' }, label: { type: 'string' } },
  required: ['as', 'scopes'],
  async run(args, io) {
    const scopes = parseScopes(need(args, 'scopes'));
    const { token, stored } = await createToken(need(args, 'as'), scopes, str(args, 'label'));
    io.out(token);
    io.err(`token ${stored.id} (${scopes.join(', ')}) stored hashed in ${tokenFilePath(need(args, 'as'))}; it is not shown again`);
    return 0;
  },
};

/** A stored token as `token list` shows it: never the token, nor its hash. */
function listed(t: StoredToken): { id: string; label?: string; scopes: string[]; createdAt: string } {
  return { id: t.id, ...(t.label ? { label: t.label } : {}), scopes: t.scopes, createdAt: t.createdAt };
}

const tokenList: Command = {
  path: ['gateway', 'token', 'list'],
  summary: "the gateway's API tokens: id, label, scopes, when made (never the token nor its hash)",
  usage: 'liaison gateway token list --as AGENCY_DIR [--json]',
  options: { as: { type: 'string' }, json: { type: 'boolean' } },
  required: ['as'],
  async run(args, io) {
    const tokens = (await readTokens(need(args, 'as'))).map(listed);
    if (args.values.json === true) {
      for (const t of tokens) io.out(JSON.stringify(t));
      return 0;
    }
    io.out(`${tokens.length} token${tokens.length === 1 ? '' : 's'} in ${tokenFilePath(need(args, 'as'))}`);
    for (const t of tokens) io.out(`  ${t.id}  ${t.createdAt}  ${t.scopes.join(',')}${t.label ? `  ${t.label}` : ''}`);
    return 0;
  },
};

const tokenRevoke: Command = {
  path: ['gateway', 'token', 'revoke'],
  summary: 'revoke an API token by its id: a running gateway refuses it (401) from its next call',
  usage: 'liaison gateway token revoke --as AGENCY_DIR ID (the id from liaison gateway token list)',
  options: { as: { type: 'string' } },
  required: ['as'],
  allowPositionals: true,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', `name one token id (usage: ${tokenRevoke.usage})`);
    const gone = await revokeToken(need(args, 'as'), id);
    io.out(`token ${gone.id} (${gone.scopes.join(', ')}${gone.label ? `, ${gone.label}` : ''}) revoked; a running gateway refuses it from its next call`);
    return 0;
  },
};

/** `liaison gateway up` and `liaison gateway token create|list|revoke`. */
export const GATEWAY_COMMANDS: readonly Command[] = [gatewayUp, tokenCreate, tokenList, tokenRevoke];
