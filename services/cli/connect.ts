import { LiaisonClient } from '../sdk/client/client.ts';
import type { Logger } from '../sdk/logging.ts';
import { int, need, str, type ParsedArgs } from './args.ts';
import { agencyServersFor } from './exchange-url.ts';

/** Connect the agency of `--as AGENCY_DIR` (servers from agency.json unless `--server URL` or `LIAISON_SERVER`; `--replica K` where the command offers it). */
export async function connectAs(args: ParsedArgs, logger?: Logger): Promise<LiaisonClient> {
  const servers = agencyServersFor(str(args, 'server'));
  const replica = 'replica' in args.values ? int(args, 'replica', 1, 8) : undefined;
  return await LiaisonClient.connect({ agencyDir: need(args, 'as'), servers, logger, replica });
}
