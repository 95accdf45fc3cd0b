/**
 * TLS on the wire (issue 12; DESIGN.md trust boundary 6): the exchange serves TLS with a certificate from the
 * federation's own CA, agencies verify it with the CA their directory carries, plain TCP is refused by a TLS server
 * and allowed only on loopback when asked for.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgency } from '../services/doctor/agency.ts';
import { checkFederation } from '../services/doctor/federation.ts';
import { startExchange } from '../services/exchange/exchange.ts';
import { freePort } from '../services/exchange/nats-process.ts';
import { LiaisonClient } from '../services/sdk/client/client.ts';
import { natsTlsOptions } from '../services/sdk/client/nats-tls.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { loadCatalog } from '../services/sdk/schema/index.ts';
import { ensureExchangeTls, initFederation, issueServerCertificate, openFederation, renderServerConfig, trustPaths } from '../services/trust/index.ts';
import { createTestFederation, EXAMPLE_POLICY, type TestFederation } from './support/federation.ts';

const AGENCY = 'xa-border-police';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isLiaisonError(err) ? err.code : `untyped: ${(err as Error).message}`;
  }
  return 'resolved';
}

/** The error a raw connection attempt ends with (or 'connected'). */
async function connectError(url: string, opts: Record<string, unknown>): Promise<string> {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 3_000, ...opts });
    await nc.close();
    return 'connected';
  } catch (err) {
    return `${(err as Error).message} ${String((err as Error & { cause?: Error }).cause?.message ?? '')}`;
  }
}

/**
 * Speak NATS over plain TCP: read INFO, send CONNECT + PING, collect what the server says until it closes (`closed`)
 * or 4 s pass. A plain server answers (`-ERR 'Authorization Violation'` without creds); a TLS server reads the
 * cleartext as a failed handshake and hangs up without a word.
 */
async function plainTcpSession(port: number): Promise<{ info: Record<string, unknown>; after: string; closed: boolean }> {
  return await new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    let buf = '';
    let info: Record<string, unknown> | undefined;
    const timer = setTimeout(() => finish(false), 4_000);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      if (!info) reject(new Error(`no INFO line: ${buf}`));
      else resolve({ info, after: buf, closed });
    };
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!info && buf.includes('\r\n')) {
        const line = buf.slice(0, buf.indexOf('\r\n'));
        info = JSON.parse(line.replace(/^INFO\s+/, '')) as Record<string, unknown>;
        buf = buf.slice(buf.indexOf('\r\n') + 2);
        sock.write('CONNECT {"verbose":false,"pedantic":false,"lang":"raw","version":"0","protocol":1}\r\nPING\r\n');
      }
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => undefined);
  });
}

describe('the federation CA and the exchange certificate', () => {
  let work: string;
  let trustDir: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-tls-'));
    trustDir = join(work, 'trust');
    await initFederation({ dir: trustDir, policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'tls-a' });
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('trust init makes an ECDSA P-256 CA of 10 years; the server certificate (1 year) chains to it and names 127.0.0.1, ::1, localhost', async () => {
    const p = trustPaths(trustDir);
    const ca = new X509Certificate(await readFile(p.caCert));
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const caYears = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365.25 * 86_400_000);
    expect(caYears).toBeGreaterThan(9.9);

    await ensureExchangeTls(trustDir, { hosts: ['exchange.example.org', '192.0.2.7'] });
    const server = new X509Certificate(await readFile(p.serverCert));
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBeDefined();
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('exchange.example.org')).toBe('exchange.example.org');
    expect(server.checkIP('192.0.2.7')).toBe('192.0.2.7');
    expect(server.checkIP('192.0.2.8')).toBeUndefined();
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const days = (Date.parse(server.validTo) - Date.parse(server.validFrom)) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(367);
  });

  it('keeps the CA key and the server key 0600 (certificates 0644) and refuses a CA key readable by others', async () => {
    const p = trustPaths(trustDir);
    await ensureExchangeTls(trustDir);
    expect((await stat(p.caKey)).mode & 0o777).toBe(0o600);
    expect((await stat(p.serverKey)).mode & 0o777).toBe(0o600);
    expect((await stat(p.caCert)).mode & 0o777).toBe(0o644);
    expect((await stat(p.serverCert)).mode & 0o777).toBe(0o644);
    await chmod(p.caKey, 0o640);
    try {
      expect(await codeOf(issueServerCertificate(trustDir))).toBe('ERR_KEY_FILE_MODE');
      expect(await codeOf(ensureExchangeTls(trustDir))).toBe('ERR_KEY_FILE_MODE');
      expect(await codeOf(openFederation(trustDir))).toBe('ERR_KEY_FILE_MODE');
    } finally {
      await chmod(p.caKey, 0o600);
    }
    await chmod(p.serverKey, 0o644);
    try {
      expect(await codeOf(ensureExchangeTls(trustDir))).toBe('ERR_KEY_FILE_MODE');
    } finally {
      await chmod(p.serverKey, 0o600);
    }
  });

  it('gives a trust dir made before TLS a CA on first exchange up, and never replaces a CA key left without its certificate', async () => {
    const old = join(work, 'old');
    await cp(trustDir, old, { recursive: true });
    await rm(trustPaths(old).tlsDir, { recursive: true });
    const ca = await ensureExchangeTls(old);
    expect(new X509Certificate(await readFile(trustPaths(old).serverCert)).verify(ca.publicKey)).toBe(true);
    await rm(trustPaths(old).caCert);
    const keyBefore = await readFile(trustPaths(old).caKey, 'utf8');
    expect(await codeOf(ensureExchangeTls(old))).toBe('ERR_TLS');
    expect(await readFile(trustPaths(old).caKey, 'utf8')).toBe(keyBefore);
  });

  it('re-issues a server certificate that does not chain to the current CA', async () => {
    const p = trustPaths(trustDir);
    const other = join(work, 'other');
    await initFederation({ dir: other, policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'tls-other' });
    await ensureExchangeTls(other);
    await writeFile(p.serverCert, await readFile(trustPaths(other).serverCert));
    const ca = await ensureExchangeTls(trustDir);
    expect(new X509Certificate(await readFile(p.serverCert)).verify(ca.publicKey)).toBe(true);
  });

  it('renders plain TCP only for a loopback listener; a client may go plain only towards loopback', async () => {
    expect(renderServerConfig({ trustDir, port: 4222, storeDir: '/tmp/x' })).toMatch(/tls \{\n {2}cert_file: ".*server\.pem"\n {2}key_file: ".*server-key\.pem"\n {2}timeout: \d+\n\}/);
    expect(renderServerConfig({ trustDir, host: '127.0.0.1', port: 4222, storeDir: '/tmp/x', tls: false })).not.toMatch(/tls \{/);
    let refused: unknown;
    try {
      renderServerConfig({ trustDir, host: '0.0.0.0', port: 4222, storeDir: '/tmp/x', tls: false });
    } catch (err) {
      refused = err;
    }
    expect(isLiaisonError(refused) && refused.code).toBe('ERR_TLS');
    expect(natsTlsOptions(undefined, ['nats://127.0.0.1:4222', 'localhost:4222', 'nats://[::1]:4222'])).toEqual({ tls: null });
    let remote: unknown;
    try {
      natsTlsOptions(undefined, ['nats://127.0.0.1:4222', 'nats://exchange.example.org:4222']);
    } catch (err) {
      remote = err;
    }
    expect(isLiaisonError(remote) && remote.code).toBe('ERR_TLS');
    expect(natsTlsOptions('PEM', 'nats://exchange.example.org:4222')).toEqual({ tls: { ca: 'PEM' } });
  });
});

describe('an exchange serving TLS (real nats-server)', () => {
  let fed: TestFederation;
  let otherWork: string;
  let otherCa: string;
  let creds: Uint8Array;
  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [AGENCY], name: 'tls' });
    creds = new Uint8Array(await readFile(join(fed.agencyDirs[AGENCY]!, 'nats.creds')));
    otherWork = await mkdtemp(join(tmpdir(), 'liaison-tls-other-'));
    await initFederation({ dir: join(otherWork, 'trust'), policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'tls-other' });
    otherCa = await readFile(trustPaths(join(otherWork, 'trust')).caCert, 'utf8');
  });
  afterAll(async () => {
    await fed?.stop();
    await rm(otherWork, { recursive: true, force: true });
  });

  it('control: the agency connects with the CA its directory carries, over TLS', async () => {
    const agencyCa = await readFile(join(fed.agencyDirs[AGENCY]!, 'ca.pem'), 'utf8');
    expect(agencyCa).toBe(await readFile(trustPaths(fed.trustDir).caCert, 'utf8'));
    expect((await stat(join(fed.agencyDirs[AGENCY]!, 'ca.pem'))).mode & 0o777).toBe(0o644);
    const config = JSON.parse(await readFile(join(fed.agencyDirs[AGENCY]!, 'agency.json'), 'utf8')) as { tls?: boolean; ca?: string };
    expect(config).toMatchObject({ tls: true, ca: 'ca.pem' });
    const client = await fed.connect(AGENCY);
    expect(client.nc.info?.tls_required).toBe(true);
    await client.nc.flush();
    expect(await connectError(fed.server.url, { tls: { ca: agencyCa }, authenticator: credsAuthenticator(creds), inboxPrefix: `_INBOX_${AGENCY}` })).toBe('connected');
  });

  it('refuses a client without the federation CA at the TLS handshake (its valid creds never reach the server)', async () => {
    const why = await connectError(fed.server.url, { authenticator: credsAuthenticator(creds), inboxPrefix: `_INBOX_${AGENCY}` });
    expect(why).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it("refuses a client holding another federation's CA at the TLS handshake", async () => {
    const why = await connectError(fed.server.url, { tls: { ca: otherCa }, authenticator: credsAuthenticator(creds), inboxPrefix: `_INBOX_${AGENCY}` });
    expect(why).toMatch(/certificate|signature|unable to verify/i);
    expect(why).not.toMatch(/authoriz/i);
  });

  it("refuses the SDK of an agency whose ca.pem is another federation's (ERR_CONNECT)", async () => {
    const dir = join(otherWork, 'wrong-ca-agency');
    await cp(fed.agencyDirs[AGENCY]!, dir, { recursive: true });
    await writeFile(join(dir, 'ca.pem'), otherCa);
    expect(await codeOf(LiaisonClient.connect({ agencyDir: dir, catalog: fed.catalog, reconnect: false }))).toBe('ERR_CONNECT');
    const findings = await checkAgency({ dir });
    expect(findings.find((f) => f.check === 'reachability')).toMatchObject({ status: 'error', detail: expect.stringMatching(/fails TLS verification against the federation CA/) });
    const own = await checkAgency({ dir: fed.agencyDirs[AGENCY]! });
    expect(own.find((f) => f.check === 'reachability')?.status).toBe('ok');
  });

  it('doctor reports the federation CA and a CA key readable by others', async () => {
    const p = trustPaths(fed.trustDir);
    const tlsOf = async () => (await checkFederation({ dir: fed.trustDir, server: fed.server.url, catalog: typeCatalogOf(fed.catalog) })).filter((f) => f.check.startsWith('TLS'));
    expect((await tlsOf()).map((f) => [f.check, f.status])).toEqual([
      ['TLS CA', 'ok'],
      ['TLS CA key', 'ok'],
      ['TLS server cert', 'ok'],
    ]);
    await chmod(p.caKey, 0o644);
    try {
      expect((await tlsOf()).find((f) => f.check === 'TLS CA key')).toMatchObject({ status: 'error', fix: `chmod 600 ${p.caKey}` });
    } finally {
      await chmod(p.caKey, 0o600);
    }
  });

  it('refuses a plain-TCP client: the server requires TLS before CONNECT, hangs up and answers nothing in cleartext', async () => {
    const { info, after, closed } = await plainTcpSession(fed.server.port);
    expect(info.tls_required).toBe(true);
    expect(closed).toBe(true);
    expect(after).toBe('');
  });
});

describe('exchange up: TLS by default, plain TCP on loopback only when asked for', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'liaison-tls-up-'));
    await initFederation({ dir: join(work, 'trust'), policyText: await readFile(EXAMPLE_POLICY, 'utf8'), federationName: 'tls-up' });
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('serves TLS by default (a plain-TCP client is refused) and plain TCP on loopback with plain: true — where a TLS-enrolled agency is refused, never downgraded', async () => {
    const catalog = typeCatalogOf(loadCatalog());
    const trustDir = join(work, 'trust');
    const tlsUp = await startExchange({ trustDir, storeDir: join(work, 'store-tls'), port: await freePort(), catalog, audit: false });
    try {
      expect(await readFile(tlsUp.configFile, 'utf8')).toMatch(/tls \{/);
      const { info, after, closed } = await plainTcpSession(tlsUp.server.port);
      expect(info.tls_required).toBe(true);
      expect({ after, closed }).toEqual({ after: '', closed: true });
    } finally {
      await tlsUp.stop();
    }
    const plainUp = await startExchange({ trustDir, storeDir: join(work, 'store-plain'), port: await freePort(), catalog, audit: false, plain: true });
    try {
      expect(await readFile(plainUp.configFile, 'utf8')).not.toMatch(/tls \{/);
      // The control of the plain-TCP probe: a plain server does answer in cleartext.
      expect((await plainTcpSession(plainUp.server.port)).after).toMatch(/-ERR/);
      const ca = await readFile(trustPaths(trustDir).caCert, 'utf8');
      const why = await connectError(plainUp.url, { tls: { ca }, authenticator: credsAuthenticator(new Uint8Array(await readFile(trustPaths(trustDir).adminCreds))) });
      expect(why).toMatch(/does not support 'tls'|tls/i);
    } finally {
      await plainUp.stop();
    }
    expect(await codeOf(startExchange({ trustDir, storeDir: join(work, 'store-wide'), host: '0.0.0.0', port: await freePort(), catalog, audit: false, plain: true }))).toBe('ERR_TLS');
  });
});
