/**
 * The exchange's leafnode listener: where agency leaf nodes (`liaison leaf up`, services/edge) connect with their
 * agency's own NATS user credentials. The hub binds each leaf connection to that agency's account and applies the
 * user's policy-compiled permissions to everything the leaf sends and to the interest it may propagate, exactly as
 * for a client connection — the leaf is the agency, not a trusted server.
 */
import { isLoopbackHost } from '../sdk/client/nats-tls.ts';
import { LiaisonError } from '../sdk/errors.ts';

/** Where the exchange accepts leaf node connections. */
export interface LeafnodeListenOptions {
  /** Leafnode port (nats-server's conventional one is 7422). */
  port: number;
  /** Host the listener binds (default: the exchange's client host, loopback unless told otherwise). */
  host?: string;
}

/** The conventional NATS leafnode port. */
export const DEFAULT_LEAFNODE_PORT = 7422;

const q = (s: string): string => JSON.stringify(s);

/**
 * The `leafnodes { … }` block: the listener, and TLS with the exchange's certificate (the files of its client TLS
 * block) unless the exchange runs plain TCP — which, like plain clients, is for loopback only (ERR_TLS otherwise).
 * Authentication is the operator's: a leaf presents an agency user JWT and lands in that agency's account.
 */
export function leafnodeBlock(o: { leafnodes?: LeafnodeListenOptions; clientHost: string; tlsFiles?: { certFile: string; keyFile: string }; handshakeTimeoutS: number }): string[] {
  const l = o.leafnodes;
  if (l === undefined) return [];
  if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535) throw new LiaisonError('ERR_CONFIG_INVALID', `leafnode port ${l.port} is not a TCP port`, { port: l.port });
  const host = l.host ?? o.clientHost;
  const lines = ['leafnodes {', `  listen: ${q(`${host}:${l.port}`)}`, '  no_advertise: true'];
  if (o.tlsFiles === undefined) {
    if (!isLoopbackHost(host)) throw new LiaisonError('ERR_TLS', `plain TCP is only for loopback: refusing leaf node connections on ${host} without TLS`, { host });
  } else {
    lines.push('  tls {', `    cert_file: ${q(o.tlsFiles.certFile)}`, `    key_file: ${q(o.tlsFiles.keyFile)}`, `    timeout: ${o.handshakeTimeoutS}`, '  }');
  }
  return [...lines, '}', ''];
}
