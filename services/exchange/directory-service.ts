import { readFile, stat } from 'node:fs/promises';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../sdk/logging.ts';
import { DIRECTORY_REQUEST_SUBJECTS, DIRECTORY_UPDATE_SUBJECT } from '../sdk/subjects.ts';
import type { ExchangeServiceHost } from './service-host.ts';

/** Header of a directory reply carrying the exchange's time (ISO 8601). */
export const EXCHANGE_TIME_HEADER = 'liaison-exchange-time';

/** Body of a directory request for a peer federation's directory: `foreign:<peer>`. */
const FOREIGN_REQUEST = 'foreign:';

/** A running directory service. */
export interface DirectoryService {
  /** Re-read the directory file now and push it when it changed. */
  refresh(): Promise<boolean>;
  stop(): void;
}

/**
 * Serve the root-signed federation directory (X-Road's "global configuration"): answer each agency's
 * `liaison.v1.svc.trust.directory.<agency>` request (through the services host, inside that agency's inbox)
 * with the current JWS, and push every new version on `liaison.v1.trust.directory` from `nc`, so enrolments,
 * rotations and revocations reach connected agencies without restarts. The file is polled (default every
 * second); agencies verify the signature themselves, so the service is not trusted.
 */
export async function startDirectoryService(opts: {
  nc: NatsConnection;
  host: ExchangeServiceHost;
  file: string;
  logger?: Logger;
  pollMs?: number;
  /** Called after each new directory is pushed (the exchange adopts its policy). */
  onChange?: () => Promise<void>;
  /**
   * A peer federation's latest directory (services/bridge), answered to a request whose body is `foreign:<peer>`
   * (empty when none is kept): the client verifies it against the peer root of its own directory's agreement.
   */
  foreign?: (peer: string) => string | undefined;
}): Promise<DirectoryService> {
  let current = await readFile(opts.file, 'utf8');
  let mtime = (await stat(opts.file)).mtimeMs;
  opts.host.listen(
    'directory',
    DIRECTORY_REQUEST_SUBJECTS,
    (msg) => {
      const asked = msg.data.length > 0 ? msg.string() : '';
      if (asked.startsWith(FOREIGN_REQUEST)) return { data: opts.foreign?.(asked.slice(FOREIGN_REQUEST.length)) ?? '' };
      // The exchange's clock, for `liaison doctor` (clock skew breaks expiry checks and deadlines).
      const h = natsHeaders();
      h.set(EXCHANGE_TIME_HEADER, new Date().toISOString());
      return { data: current, headers: h };
    },
    { queue: 'liaison-directory' },
  );
  const check = async (): Promise<boolean> => {
    try {
      const m = (await stat(opts.file)).mtimeMs;
      if (m === mtime) return false;
      const next = await readFile(opts.file, 'utf8');
      mtime = m;
      if (next === current) return false;
      current = next;
      // The server learns the accounts first (an agency told of new rights must find them granted). Its failure (e.g.
      // JetStream not answering while a cluster node is down) is logged and the push goes out all the same: skipped, it
      // would never be made (the file no longer differs), and an agency left on a JWT a policy apply then revokes is
      // cut for good.
      await opts.onChange?.().catch((err: unknown) => opts.logger?.warn({ err }, 'the exchange could not follow the new directory; pushing it all the same'));
      opts.nc.publish(DIRECTORY_UPDATE_SUBJECT, current);
      opts.logger?.info('federation directory updated and pushed');
      return true;
    } catch (err) {
      opts.logger?.warn({ err }, 'cannot read the federation directory');
      return false;
    }
  };
  // One check at a time: an explicit refresh waits for the poll in flight, then looks again.
  let inflight: Promise<boolean> = Promise.resolve(false);
  const refresh = (): Promise<boolean> => (inflight = inflight.then(check, check));
  const timer = setInterval(() => void refresh(), opts.pollMs ?? 1_000);
  timer.unref();
  return {
    refresh,
    stop() {
      clearInterval(timer);
    },
  };
}
