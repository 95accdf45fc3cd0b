import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { readAgencyCa } from '../sdk/client/nats-tls.ts';
import { trustPaths, type AgencyConfig } from '../trust/index.ts';
import { expiryFinding, fail, ok, warn, type Finding } from './finding.ts';

async function certificate(file: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(file));
  } catch {
    return undefined;
  }
}

/**
 * The federation's TLS material: the CA certificate and its key (0600), and — once `exchange up` has run — the
 * server certificate, which must chain to the CA and not be expired.
 */
export async function federationTlsFindings(trustDir: string, now: number): Promise<Finding[]> {
  const p = trustPaths(trustDir);
  const ca = await certificate(p.caCert);
  if (!ca) return [warn('TLS CA', `${p.caCert} is missing or not a certificate`, '`liaison exchange up --dir TRUST_DIR` creates the federation CA; then re-enrol agencies (--reissue) to hand it out')];
  const out: Finding[] = [ok('TLS CA', `${ca.subject.replace(/\n/g, ', ')}, valid to ${new Date(ca.validTo).toISOString()}`)];
  const mode = await stat(p.caKey).then((s) => s.mode, () => undefined);
  if (mode === undefined) out.push(fail('TLS CA key', `${p.caKey} is missing`, 'restore it from a backup: without it no server certificate can be issued'));
  else if ((mode & 0o077) !== 0) out.push(fail('TLS CA key', `${p.caKey} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}: readable by others`, `chmod 600 ${p.caKey}`));
  else out.push(ok('TLS CA key', `${p.caKey} is 0${(mode & 0o777).toString(8)}`));
  const server = await certificate(p.serverCert);
  if (server) {
    if (!server.checkIssued(ca) || !server.verify(ca.publicKey)) out.push(fail('TLS server cert', `${p.serverCert} is not issued by the federation CA`, 'delete it; `liaison exchange up` issues a new one'));
    else out.push(expiryFinding('TLS server cert', 'the exchange server certificate', new Date(server.validTo).getTime(), now, 'restart `liaison exchange up`: it re-issues a certificate within 30 days of its end'));
  }
  return out;
}

/** The CA an agency verifies the exchange with (`ca.pem`), or a note that it connects over plain TCP. */
export async function agencyTlsFinding(agencyDir: string, config: Pick<AgencyConfig, 'tls' | 'ca'>): Promise<{ finding: Finding; ca: string | undefined }> {
  try {
    const ca = await readAgencyCa(agencyDir, config);
    if (ca === undefined) return { ca, finding: warn('TLS', 'agency.json asks for plain TCP (tls: false): loopback exchanges only', 're-enrol without --plain to connect over TLS') };
    const cert = new X509Certificate(ca);
    return { ca, finding: ok('TLS', `verifies the exchange against ${cert.subject.replace(/\n/g, ', ')}`) };
  } catch (err) {
    return { ca: undefined, finding: fail('TLS', (err as Error).message, 'ask the federation to re-issue: liaison trust enrol --dir TRUST_DIR --agency ID --out AGENCY_DIR --reissue') };
  }
}
