/**
 * `liaison leaf up`: an agency's own nats-server at its premises, joined to the exchange as a leaf node with the
 * agency's own credentials (leaf-config.ts), its outbox in a JetStream domain of its own (outbox.ts) and the
 * forwarder that delivers the outbox to the exchange once it is reachable (forwarder.ts). The agency's services
 * connect to the leaf's local URL (connect.ts); while the link is down they keep sending into the outbox.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { spawnNatsServer, type NatsProcess } from '../exchange/nats-process.ts';
import { loadAgencyDir } from '../sdk/client/identity.ts';
import { serverHost } from '../sdk/client/nats-tls.ts';
import { asLiaisonError, LiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { readAgencyConfig } from '../sdk/trust/agency-config.ts';
import { writePrivateFile, writePublicFile } from '../sdk/trust/key-file.ts';
import { agencyPaths } from '../sdk/trust/paths.ts';
import { directoryRequestSubject, inboxPrefix } from '../sdk/subjects.ts';
import { DEFAULT_LEAFNODE_PORT } from '../trust/leafnode-config.ts';
import { Forwarder } from './forwarder.ts';
import { renderLeafConfig } from './leaf-config.ts';
import { ensureOutbox } from './outbox.ts';
import { leafPaths } from './paths.ts';

/** The default local port of a leaf node (the exchange's clients use 4222). */
export const DEFAULT_LEAF_PORT = 4223;

/** Options for {@link startLeaf}. */
export interface LeafOptions {
  /** AGENCY_DIR (agency.json, nats.creds, ca.pem); the leaf keeps its config and store under AGENCY_DIR/leaf. */
  agencyDir: string;
  /** Local port (default {@link DEFAULT_LEAF_PORT}); loopback only. */
  port?: number;
  /** The exchange's leafnode URL (default: the host of agency.json's first server, port 7422). */
  hubUrl?: string;
  /** The exchange's client URLs the forwarder sends on (default: agency.json's servers). */
  servers?: string[];
  /** Copies the forwarder publishes before waiting for their acknowledgements (default 256). */
  window?: number;
  /** How long start waits for the exchange to answer through the link (default 5 s; it starts offline after that). */
  linkWaitMs?: number;
  /** Pause between the forwarder's attempts to reach the exchange (default 1 s). */
  retryMs?: number;
  logger?: Logger;
}

/** A running leaf node. */
export interface RunningLeaf {
  agencyId: string;
  /** Where the agency's services connect (plain TCP on loopback). */
  url: string;
  hubUrl: string;
  server: NatsProcess;
  forwarder: Forwarder;
  /** True once the exchange answers through the leaf link (its directory service), false after `timeoutMs`. */
  linked(timeoutMs: number): Promise<boolean>;
  /** Stop the forwarder and the leaf's nats-server (the outbox stays on disk for the next start). */
  stop(): Promise<void>;
}

/** The exchange's leafnode URL an agency reaches by default: its exchange's host, port 7422, TLS when enrolled so. */
export function defaultHubUrl(servers: readonly string[], tls: boolean): string {
  const first = servers[0];
  if (first === undefined) throw new LiaisonError('ERR_CONFIG_INVALID', 'agency.json names no exchange server: pass the exchange leafnode URL (--hub)');
  const host = serverHost(first);
  return `${tls ? 'tls' : 'nats-leaf'}://${host.includes(':') ? `[${host}]` : host}:${DEFAULT_LEAFNODE_PORT}`;
}

async function localConnection(url: string, agencyId: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name: 'liaison-leaf', inboxPrefix: inboxPrefix(agencyId), maxReconnectAttempts: -1, noAsyncTraces: true });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EDGE', `cannot connect to the leaf at ${url}`);
  }
}

/**
 * True once the exchange's directory service answers the agency's own directory request through the leaf (the link
 * is up and the hub knows the agency), false when `timeoutMs` passes first.
 */
export async function exchangeAnswers(local: NatsConnection, agencyId: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await local.request(directoryRequestSubject(agencyId), '', { timeout: Math.max(1, Math.min(1_000, deadline - Date.now())) }).then(
      (m) => m.data.length > 0,
      () => false,
    );
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Start the agency's leaf node, its outbox and its forwarder (see the file comment). */
export async function startLeaf(o: LeafOptions): Promise<RunningLeaf> {
  const logger = o.logger ?? silentLogger();
  const config = await readAgencyConfig(o.agencyDir);
  if (!config) throw new LiaisonError('ERR_CONFIG_INVALID', `${o.agencyDir} is not an agency directory (no agency.json)`, { dir: o.agencyDir });
  const identity = await loadAgencyDir(o.agencyDir);
  const tls = identity.ca !== undefined;
  const hubUrl = o.hubUrl ?? defaultHubUrl(config.servers, tls);
  const paths = leafPaths(o.agencyDir);
  const port = o.port ?? DEFAULT_LEAF_PORT;
  const host = '127.0.0.1';
  await mkdir(paths.storeDir, { recursive: true, mode: 0o700 });
  const text = renderLeafConfig({
    agencyId: identity.id,
    host,
    port,
    storeDir: paths.storeDir,
    hubUrl,
    credsFile: agencyPaths(o.agencyDir).natsCreds,
    ...(tls ? { caFile: agencyPaths(o.agencyDir).caCert } : {}),
    localPassword: randomBytes(24).toString('base64url'),
  });
  await writePrivateFile(paths.configFile, text);
  const server = await spawnNatsServer({ configFile: paths.configFile, host, port, logger: logger.child({ component: 'leaf-nats' }) });
  let local: NatsConnection | undefined;
  try {
    local = await localConnection(server.url, identity.id);
    await ensureOutbox(await jetstreamManager(local), identity.id);
    const forwarder = await Forwarder.start({ agencyId: identity.id, local, servers: o.servers ?? identity.servers, creds: identity.creds, ca: identity.ca, window: o.window, retryMs: o.retryMs, logger });
    await writePublicFile(paths.stateFile, `${JSON.stringify({ agency: identity.id, url: server.url, hub: hubUrl, pid: server.pid, startedAt: new Date().toISOString() }, null, 2)}\n`);
    const nc = local;
    // Give the link a moment so the agency's processes find the exchange at once; a leaf also starts offline.
    if (!(await exchangeAnswers(nc, identity.id, o.linkWaitMs ?? 5_000))) logger.warn({ hub: hubUrl }, 'the exchange does not answer through the leaf yet: sends are kept in the outbox');
    return {
      agencyId: identity.id,
      url: server.url,
      hubUrl,
      server,
      forwarder,
      linked: (timeoutMs) => exchangeAnswers(nc, identity.id, timeoutMs),
      async stop() {
        await forwarder.stop();
        await nc.close().catch(() => undefined);
        await server.stop();
        await rm(paths.stateFile, { force: true });
      },
    };
  } catch (err) {
    await local?.close().catch(() => undefined);
    await server.stop();
    throw err;
  }
}
