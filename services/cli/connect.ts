import { LiaisonClient } from '../sdk/client/client.ts';
import type { Logger } from '../sdk/logging.ts';
import { need, str, type ParsedArgs } from './args.ts';

/** Connect the agency of `--as AGENCY_DIR` (servers from agency.json unless `--server URL`). */
export async function connectAs(args: ParsedArgs, logger?: Logger): Promise<LiaisonClient> {
  const server = str(args, 'server');
  return await LiaisonClient.connect({ agencyDir: need(args, 'as'), servers: server ? [server] : undefined, logger });
}
