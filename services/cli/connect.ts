import { LiaisonClient } from '../sdk/client/client.ts';
import type { Logger } from '../sdk/logging.ts';
import { int, need, str, type ParsedArgs } from './args.ts';
import { agencyServersFor } from './exchange-url.ts';
import { connectViaLeaf, runningLeafUrl } from '../edge/connect.ts';
import { bridgeSupport } from '../bridge/sdk-support.ts';

/**
 * Connect the agency of `--as AGENCY_DIR` (servers from agency.json unless `--server URL` or `LIAISON_SERVER`;
 * `--replica K` where the command offers it). While the agency's own leaf node runs (`liaison leaf up`) and no
 * server is named, through the leaf: its sends are kept there while the exchange is unreachable. Directly, it sends and
 * receives across the agreements its federation's directory carries (services/bridge/sdk-support.ts).
 */
export async function connectAs(args: ParsedArgs, logger?: Logger): Promise<LiaisonClient> {
  const agencyDir = need(args, 'as');
  const servers = agencyServersFor(str(args, 'server'));
  const replica = 'replica' in args.values ? int(args, 'replica', 1, 8) : undefined;
  const leafUrl = servers === undefined ? await runningLeafUrl(agencyDir) : undefined;
  if (leafUrl !== undefined) return await connectViaLeaf({ agencyDir, leafUrl, logger, replica });
  // Across the federation's cross-federation agreements too (issue 17): qualified recipients, bridged and observed copies.
  return await LiaisonClient.connect({ agencyDir, servers, logger, replica, bridges: bridgeSupport });
}
