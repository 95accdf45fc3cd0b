import { readFile } from 'node:fs/promises';
import { LiaisonClient, type ConnectOptions } from '../sdk/client/client.ts';
import type { DirectoryCache } from '../sdk/client/directory.ts';
import { loadAgencyDir } from '../sdk/client/identity.ts';
import { writePublicFile } from '../sdk/trust/key-file.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { leafPaths } from './paths.ts';

/** True when a process with this pid exists (signal 0 checks without signalling). */
function alive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The local URL of the agency's running leaf (AGENCY_DIR/leaf/leaf.json, written by `leaf up`, whose nats-server
 * process still exists), or undefined when none runs — a leaf killed without its stop leaves a stale file behind.
 */
export async function runningLeafUrl(agencyDir: string): Promise<string | undefined> {
  let state: { url?: unknown; pid?: unknown };
  try {
    state = JSON.parse(await readFile(leafPaths(agencyDir).stateFile, 'utf8')) as { url?: unknown; pid?: unknown };
  } catch {
    return undefined;
  }
  return typeof state.url === 'string' && alive(state.pid) ? state.url : undefined;
}

/**
 * The agency's cached federation directory (AGENCY_DIR/leaf/directory.jws): saved on every verified directory, loaded
 * when the exchange does not answer. The SDK verifies what it loads against the root, expiry included.
 */
export function leafDirectoryCache(agencyDir: string): DirectoryCache {
  const file = leafPaths(agencyDir).directoryFile;
  return {
    async load() {
      try {
        return (await readFile(file, 'utf8')).trim();
      } catch {
        return undefined;
      }
    },
    async save(jws) {
      await writePublicFile(file, `${jws}\n`);
    },
  };
}

/**
 * Connect an agency's SDK client to its own leaf node instead of the exchange: the same identity, keys and
 * credentials, over plain TCP to the leaf's loopback listener (the leaf crosses to the exchange over TLS).
 * `leafUrl` defaults to the running leaf's; ERR_CONNECT when none runs. While the exchange is unreachable it
 * starts from the directory cached by an earlier connection, so it can send (into the leaf's outbox); consuming
 * waits until the exchange answers.
 */
export async function connectViaLeaf(opts: Omit<ConnectOptions, 'identity' | 'servers'> & { agencyDir: string; leafUrl?: string }): Promise<LiaisonClient> {
  const url = opts.leafUrl ?? (await runningLeafUrl(opts.agencyDir));
  if (url === undefined) throw new LiaisonError('ERR_CONNECT', `no leaf node runs for ${opts.agencyDir} (start one with \`liaison leaf up --as ${opts.agencyDir}\`)`, { dir: opts.agencyDir });
  const identity = await loadAgencyDir(opts.agencyDir);
  // No CA: the leaf listens on loopback without TLS (natsTlsOptions refuses plain TCP to anything else).
  const { ca: _ca, ...plain } = identity;
  return await LiaisonClient.connect({ directoryCache: leafDirectoryCache(opts.agencyDir), ...opts, identity: plain, servers: [url] });
}
