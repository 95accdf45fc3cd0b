/**
 * Operator-mode nats-server configuration for the exchange.
 *
 * Resolver choice, verified on nats-server 2.9.10 (the installed binary) with @nats-io/jwt 0.0.11:
 * - (b) `resolver: { type: full, dir, allow_delete: false }` + `resolver_preload` — CHOSEN. Pushing the re-signed
 *   exchange account JWT (with `revocations`) as the SYS user to `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE` (or
 *   `$SYS.REQ.CLAIMS.UPDATE`) is answered `{"data":{"code":200,"message":"jwt updated"}}`; the connected revoked
 *   user gets `-ERR 'User Authentication Revoked'` about 20 ms after the request, and every reconnect is
 *   refused with `Authorization Violation`. No restart, no config rewrite; the resolver dir keeps the update across
 *   restarts, and TRUST_DIR/nats/account.jwt (preloaded) holds it too. This is also the production mechanism (clusters
 *   propagate it between servers).
 * - (a) `resolver: MEMORY` + `resolver_preload`, rewriting the config and sending SIGHUP, also disconnects the revoked
 *   user on 2.9.10 (≈ 15 ms after the signal), but needs write access to the config and a signal to the process.
 * Auth callout does not exist in 2.9. The exchange never runs in `$G` (CVE-2023-47090): agencies and the exchange
 * live in the LIAISON account, the system account is SYS.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoopbackHost } from '../sdk/client/nats-tls.ts';
import { LiaisonError } from '../sdk/errors.ts';
import { decodeNatsJwt } from './nats-accounts.ts';
import { leafnodeBlock, type LeafnodeListenOptions } from './leafnode-config.ts';
import { trustPaths } from './paths.ts';

/** Options for {@link renderServerConfig}. */
export interface ServerConfigOptions {
  /** TRUST_DIR (operator, account and system JWTs are read from nats/). */
  trustDir: string;
  host?: string;
  port: number;
  /** JetStream store directory (as the server sees it). */
  storeDir: string;
  /** Account JWT store of the full resolver; default `<storeDir>/accounts`. */
  resolverDir?: string;
  /** Monitoring port (HTTP), off when omitted. */
  httpPort?: number;
  serverName?: string;
  /** JetStream limits, nats-server units; defaults 256M / 4G. */
  maxMem?: string;
  maxFile?: string;
  /**
   * TLS for client connections (default true: the server certificate and key of `trustDir/tls/`, issued by
   * `ensureExchangeTls`). Explicit files for a server that sees other paths (a container). `false`: plain TCP,
   * refused (ERR_TLS) unless `host` is a loopback address.
   */
  tls?: boolean | { certFile: string; keyFile: string; caFile?: string };
  /** This server as one node of a NATS cluster (JetStream over RAFT); a single server when omitted. */
  cluster?: ClusterRouteOptions;
  /** Accept agency leaf nodes on this port (TLS like the clients'); none when omitted. */
  leafnodes?: LeafnodeListenOptions;
}

/** The `cluster { … }` block of one node: where it listens for routes and every node's route address. */
export interface ClusterRouteOptions {
  /** Cluster name, the same on every node (default {@link DEFAULT_CLUSTER_NAME}). */
  name?: string;
  /** Host the route listener binds (default the client host). */
  host?: string;
  /** Route (cluster) port of this node. */
  port: number;
  /** `host:port` of every node's route listener, this one included (the same list on every node). */
  routes: readonly string[];
}

/** The cluster name of a Liaison exchange. */
export const DEFAULT_CLUSTER_NAME = 'liaison';

/** Seconds a client has to finish the TLS handshake. */
export const TLS_HANDSHAKE_TIMEOUT_S = 2;

/** Largest message the exchange accepts: 1 MiB. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

const q = (s: string): string => JSON.stringify(s);

function readJwt(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** Every agency's own account JWT (TRUST_DIR/nats/agencies/*.jwt), preloaded so enrolled agencies connect at once. */
function agencyAccountJwts(trustDir: string): string[] {
  const dir = trustPaths(trustDir).agencyAccountsDir;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.jwt')).sort().map((n) => readJwt(join(dir, n)));
}

/** The exchange's certificate and key (the TLS files of its client listener), or undefined for plain TCP. */
function tlsFilesOf(opts: ServerConfigOptions): { certFile: string; keyFile: string } | undefined {
  if (opts.tls === false) return undefined;
  if (typeof opts.tls === 'object') return { certFile: opts.tls.certFile, keyFile: opts.tls.keyFile };
  const p = trustPaths(opts.trustDir);
  return { certFile: p.serverCert, keyFile: p.serverKey };
}

/** The `tls { … }` block of the config, or none for plain TCP (loopback only). */
function tlsBlock(opts: ServerConfigOptions): string[] {
  const host = opts.host ?? '127.0.0.1';
  if (opts.tls === false) {
    if (!isLoopbackHost(host)) {
      throw new LiaisonError('ERR_TLS', `plain TCP is only for loopback: refusing to listen on ${host} without TLS`, { host });
    }
    return [];
  }
  const p = trustPaths(opts.trustDir);
  const files = typeof opts.tls === 'object' ? opts.tls : { certFile: p.serverCert, keyFile: p.serverKey };
  if (typeof opts.tls !== 'object') {
    for (const file of [files.certFile, files.keyFile]) {
      if (!existsSync(file)) throw new LiaisonError('ERR_TLS', `${file} is missing: \`liaison exchange up\` issues the server certificate from the federation CA`, { file });
    }
  }
  return ['tls {', `  cert_file: ${q(files.certFile)}`, `  key_file: ${q(files.keyFile)}`, `  timeout: ${TLS_HANDSHAKE_TIMEOUT_S}`, '}', ''];
}

/**
 * The `cluster { … }` block: routes to every node and, unless the exchange runs plain TCP, TLS between routes with
 * the exchange's certificate, both ends verified against the federation CA (a server without a CA-issued
 * certificate cannot join). Plain routes are for loopback only, like plain clients (ERR_TLS otherwise).
 */
function clusterBlock(opts: ServerConfigOptions): string[] {
  const c = opts.cluster;
  if (c === undefined) return [];
  const host = c.host ?? opts.host ?? '127.0.0.1';
  if (c.routes.length === 0) throw new LiaisonError('ERR_CONFIG_INVALID', 'a cluster needs the route address of every node', {});
  const routes = c.routes.map((r) => `    ${q(`nats-route://${r}`)}`);
  const lines = ['cluster {', `  name: ${q(c.name ?? DEFAULT_CLUSTER_NAME)}`, `  listen: ${q(`${host}:${c.port}`)}`, '  routes: [', ...routes, '  ]'];
  if (opts.tls === false) {
    const remote = [host, ...c.routes.map((r) => r.replace(/:\d+$/, ''))].filter((h) => !isLoopbackHost(h));
    if (remote.length > 0) throw new LiaisonError('ERR_TLS', `plain TCP is only for loopback: refusing routes to ${remote.join(', ')} without TLS`, { hosts: remote });
  } else {
    const p = trustPaths(opts.trustDir);
    const files = typeof opts.tls === 'object' ? { caFile: p.caCert, ...opts.tls } : { certFile: p.serverCert, keyFile: p.serverKey, caFile: p.caCert };
    lines.push('  tls {', `    cert_file: ${q(files.certFile)}`, `    key_file: ${q(files.keyFile)}`, `    ca_file: ${q(files.caFile)}`, '    verify: true', `    timeout: ${TLS_HANDSHAKE_TIMEOUT_S}`, '  }');
  }
  return [...lines, '}', ''];
}

/**
 * Render an operator-mode nats-server config: the operator JWT inline, `system_account` SYS, the full resolver with
 * the SYS and LIAISON account JWTs preloaded, JetStream, `max_payload` 1 MiB, sane ping/write deadlines and TLS
 * (unless `tls: false`, loopback only); with `cluster`, the routes of one node of a cluster (TLS between routes).
 */
export function renderServerConfig(opts: ServerConfigOptions): string {
  const p = trustPaths(opts.trustDir);
  const operatorJwt = readJwt(p.operatorJwt);
  const accountJwt = readJwt(p.accountJwt);
  const systemJwt = readJwt(p.systemJwt);
  const sysPub = decodeNatsJwt(systemJwt, 'system account JWT').sub;
  const accPub = decodeNatsJwt(accountJwt, 'exchange account JWT').sub;
  const lines = [
    '# Liaison exchange — generated by services/trust/server-config.ts; do not edit.',
    `server_name: ${q(opts.serverName ?? 'liaison-exchange')}`,
    `listen: ${q(`${opts.host ?? '127.0.0.1'}:${opts.port}`)}`,
    ...(opts.httpPort === undefined ? [] : [`http: ${q(`${opts.host ?? '127.0.0.1'}:${opts.httpPort}`)}`]),
    `max_payload: ${MAX_PAYLOAD_BYTES}`,
    // The CONNECT line carries the user JWT, whose policy-compiled permission lists run to several KiB.
    'max_control_line: 65536',
    'ping_interval: "20s"',
    'ping_max: 3',
    'write_deadline: "10s"',
    '',
    ...tlsBlock(opts),
    ...clusterBlock(opts),
    ...leafnodeBlock({ leafnodes: opts.leafnodes, clientHost: opts.host ?? '127.0.0.1', tlsFiles: tlsFilesOf(opts), handshakeTimeoutS: TLS_HANDSHAKE_TIMEOUT_S }),
    `operator: ${operatorJwt}`,
    `system_account: ${sysPub}`,
    'resolver: {',
    '  type: full',
    `  dir: ${q(opts.resolverDir ?? join(opts.storeDir, 'accounts'))}`,
    '  allow_delete: false',
    // A cluster's nodes compare their account JWTs this often (one that missed an update while down converges).
    `  interval: ${q(opts.cluster ? '10s' : '2m')}`,
    '  timeout: "5s"',
    '}',
    'resolver_preload: {',
    `  ${sysPub}: ${systemJwt}`,
    `  ${accPub}: ${accountJwt}`,
    ...agencyAccountJwts(opts.trustDir).map((jwt) => `  ${decodeNatsJwt(jwt, 'agency account JWT').sub}: ${jwt}`),
    '}',
    '',
    'jetstream {',
    `  store_dir: ${q(opts.storeDir)}`,
    `  max_mem: ${opts.maxMem ?? '256M'}`,
    `  max_file: ${opts.maxFile ?? '4G'}`,
    '}',
    '',
  ];
  return lines.join('\n');
}
