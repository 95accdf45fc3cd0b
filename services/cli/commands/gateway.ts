import { readFile } from 'node:fs/promises';
import { startGateway } from '../../gateway/server.ts';
import { createToken, parseScopes, tokenFilePath } from '../../gateway/tokens.ts';
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
    'liaison gateway up --as AGENCY_DIR [--port N] [--host H] [--tls-cert FILE --tls-key FILE] [--server URL] — 127.0.0.1:8080 by default; ' +
    'any other address needs --tls-cert and --tls-key; every call needs an API token (liaison gateway token create)',
  options: {
    as: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    server: { type: 'string' },
  },
  required: ['as'],
  async run(args, io) {
    const tls = await tlsOf(args);
    const logger = createLogger({ name: 'gateway' });
    const client = await connectAs(args, logger);
    let gateway;
    try {
      gateway = await startGateway({ client, agencyDir: need(args, 'as'), logger, host: str(args, 'host'), port: int(args, 'port', 0, 65_535) ?? DEFAULT_GATEWAY_PORT, tls });
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

/** `liaison gateway up` and `liaison gateway token create`. */
export const GATEWAY_COMMANDS: readonly Command[] = [gatewayUp, tokenCreate];
