/**
 * The TLS part of every nats `connect(` Liaison makes (DESIGN.md, trust boundary 6): the exchange's certificate is
 * verified against the federation's own CA — from an agency directory (`ca.pem`) or a trust directory
 * (`tls/ca.pem`). Plain TCP only when asked for explicitly, and only towards loopback servers.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { LiaisonError } from '../errors.ts';
import { agencyPaths, trustPaths } from '../trust/paths.ts';

/** Connect options' `tls`: the federation CA to verify the server with, or `null` for plain TCP (never upgraded). */
export interface NatsTls {
  tls: { ca: string } | null;
}

/** True for 127.0.0.0/8, ::1 and `localhost` (brackets of an IPv6 URL host allowed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The host of a NATS server URL (`nats://h:p`, `tls://h:p` or `h:p`). */
export function serverHost(server: string): string {
  try {
    return new URL(server.includes('://') ? server : `nats://${server}`).hostname;
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${JSON.stringify(server)} is not a NATS server URL`, { server }, { cause: err });
  }
}

/**
 * Every server of `servers`: an array as given, or one string of comma-separated URLs (a cluster: `nats://a:4222,nats://b:4222`),
 * blanks dropped.
 */
export function serverList(servers: string | readonly string[]): string[] {
  return (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * The `tls` connect option: verify the server against the CA certificate `ca` (PEM), or — `ca` undefined — plain
 * TCP, refused (ERR_TLS) unless every server is on loopback.
 */
export function natsTlsOptions(ca: string | undefined, servers: string | readonly string[]): NatsTls {
  if (ca !== undefined) return { tls: { ca } };
  const remote = serverList(servers).filter((s) => !isLoopbackHost(serverHost(s)));
  if (remote.length > 0) throw new LiaisonError('ERR_TLS', `plain TCP is only for loopback: refusing to connect to ${remote.join(', ')} without TLS`, { servers: remote });
  return { tls: null };
}

async function readCa(file: string, hint: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_TLS', `federation CA certificate ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${hint}`, { file }, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new LiaisonError('ERR_TLS', `${file} is not a PEM certificate`, { file });
  return pem;
}

/**
 * The federation CA an agency verifies the exchange with: AGENCY_DIR/ca.pem (or the file agency.json names in `ca`),
 * written at enrolment; undefined when agency.json says `tls: false`.
 */
export async function readAgencyCa(agencyDir: string, config: { tls?: boolean; ca?: string }): Promise<string | undefined> {
  if (config.tls === false) return undefined;
  const file = config.ca === undefined ? agencyPaths(agencyDir).caCert : resolve(agencyDir, config.ca);
  return await readCa(file, 'the agency directory carries the federation CA since enrolment; enrol again (reissue) to get it');
}

/**
 * Connect options' `tls` for a connection with the federation's own creds (exchange administrator, services, CLI):
 * the CA of TRUST_DIR/tls/ca.pem, or plain TCP when `plain` (loopback servers only).
 */
export async function trustDirTls(trustDir: string, servers: string | readonly string[], o: { plain?: boolean } = {}): Promise<NatsTls> {
  if (o.plain) return natsTlsOptions(undefined, servers);
  return natsTlsOptions(await readCa(trustPaths(trustDir).caCert, '`liaison trust init` creates it, `liaison exchange up` adds it to an older trust dir'), servers);
}
