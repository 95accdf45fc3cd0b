import { readFile, stat } from 'node:fs/promises';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../sdk/logging.ts';
import { DIRECTORY_REQUEST_SUBJECT, DIRECTORY_UPDATE_SUBJECT } from '../sdk/subjects.ts';

/** Header of a directory reply carrying the exchange's time (ISO 8601). */
export const EXCHANGE_TIME_HEADER = 'liaison-exchange-time';

/** A running directory service. */
export interface DirectoryService {
  /** Re-read the directory file now and push it when it changed. */
  refresh(): Promise<boolean>;
  stop(): void;
}

/**
 * Serve the root-signed federation directory (X-Road's "global configuration"): answer
 * `liaison.v1.svc.trust.directory` requests with the current JWS and push every new version on
 * `liaison.v1.trust.directory`, so enrolments, rotations and revocations reach connected agencies
 * without restarts. The file is polled (default every second); agencies verify the signature
 * themselves, so the service is not trusted.
 */
export async function startDirectoryService(opts: { nc: NatsConnection; file: string; logger?: Logger; pollMs?: number }): Promise<DirectoryService> {
  let current = await readFile(opts.file, 'utf8');
  let mtime = (await stat(opts.file)).mtimeMs;
  const sub: Subscription = opts.nc.subscribe(DIRECTORY_REQUEST_SUBJECT, {
    queue: 'liaison-directory',
    callback: (err, msg) => {
      if (err) return opts.logger?.warn({ err }, 'directory service subscription error');
      // The exchange's clock, for `liaison doctor` (clock skew breaks expiry checks and deadlines).
      const h = natsHeaders();
      h.set(EXCHANGE_TIME_HEADER, new Date().toISOString());
      msg.respond(current, { headers: h });
    },
  });
  const refresh = async (): Promise<boolean> => {
    try {
      const m = (await stat(opts.file)).mtimeMs;
      if (m === mtime) return false;
      const next = await readFile(opts.file, 'utf8');
      mtime = m;
      if (next === current) return false;
      current = next;
      opts.nc.publish(DIRECTORY_UPDATE_SUBJECT, current);
      opts.logger?.info('federation directory updated and pushed');
      return true;
    } catch (err) {
      opts.logger?.warn({ err }, 'cannot read the federation directory');
      return false;
    }
  };
  const timer = setInterval(() => void refresh(), opts.pollMs ?? 1_000);
  timer.unref();
  return {
    refresh,
    stop() {
      clearInterval(timer);
      sub.unsubscribe();
    },
  };
}
