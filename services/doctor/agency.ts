import { stat } from 'node:fs/promises';
import { agencyJetStreamManager } from '../sdk/client/agency-js.ts';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { decodeJwt } from 'jose';
import { EXCHANGE_TIME_HEADER } from '../exchange/directory-service.ts';
import { jwtOfCreds } from '../sdk/client/live-credentials.ts';
import { typeCatalogOf } from '../sdk/client/type-catalog.ts';
import type { Clock } from '../sdk/clock.ts';
import { systemClock } from '../sdk/clock.ts';
import { compileConsumers, parsePolicy } from '../sdk/policy/index.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import { directoryRequestSubject, inboxPrefix } from '../sdk/subjects.ts';
import { decodeNatsJwt, loadSigningKey, readAgencyConfig, readPrivateFile, verifyDirectory, type Directory } from '../trust/index.ts';
import { natsTlsOptions } from '../sdk/client/nats-tls.ts';
import { agencyTlsFinding } from './tls.ts';
import { agencyQuarantineFinding } from './quarantine.ts';
import { SKEW_ERROR_MS, SKEW_WARN_MS, expiryFinding, fail, modeFinding, ok, warn, type Finding } from './finding.ts';

const REISSUE = 'ask the federation to re-issue: liaison trust enrol --dir TRUST_DIR --agency ID --out AGENCY_DIR --reissue';

async function modeOf(file: string): Promise<number | undefined> {
  return stat(file).then(
    (s) => s.mode,
    () => undefined,
  );
}

/**
 * Check an agency directory and its connection to the exchange: key file modes, credential and NATS
 * user expiry, the signing key, reachability, the directory (present, not revoked, roles as the
 * policy says), credentials behind the directory, the agency's consumers, clock skew.
 */
export async function checkAgency(o: { dir: string; servers?: string[]; clock?: Clock; timeoutMs?: number }): Promise<Finding[]> {
  const now = (o.clock ?? systemClock).now();
  const out: Finding[] = [];
  const config = await readAgencyConfig(o.dir).catch(() => undefined);
  if (!config) return [fail('agency.json', `${o.dir} has no readable agency.json`, 'point --as at the AGENCY_DIR written by liaison trust enrol')];
  out.push(ok('agency.json', `agency ${config.id} (${config.country}), roles ${config.roles.join(', ')}`));
  out.push(modeFinding('signing key mode', join(o.dir, 'signing-key.jwk'), await modeOf(join(o.dir, 'signing-key.jwk'))));
  out.push(modeFinding('NATS creds mode', join(o.dir, 'nats.creds'), await modeOf(join(o.dir, 'nats.creds'))));
  try {
    const key = await loadSigningKey(join(o.dir, 'signing-key.jwk'));
    out.push(key.kid === config.keyId ? ok('signing key', `kid ${key.kid} matches agency.json`) : fail('signing key', `signing-key.jwk has kid ${key.kid}, agency.json names ${config.keyId}`, REISSUE));
  } catch (err) {
    out.push(fail('signing key', (err as Error).message, 'fix the file mode, or restore the key; if lost, the agency must be re-enrolled'));
  }
  const credExp = (() => {
    try {
      const exp = decodeJwt(config.credential).exp;
      return exp === undefined ? undefined : exp * 1000;
    } catch {
      return undefined;
    }
  })();
  out.push(expiryFinding('credential expiry', 'the agency credential', credExp, now, REISSUE));
  let creds: Uint8Array | undefined;
  try {
    creds = new Uint8Array(await readPrivateFile(join(o.dir, 'nats.creds')));
    const exp = decodeNatsJwt(jwtOfCreds(creds), 'NATS user JWT').exp;
    out.push(expiryFinding('NATS user expiry', 'the NATS user JWT', exp === undefined ? undefined : exp * 1000, now, REISSUE));
  } catch (err) {
    out.push(fail('NATS user', (err as Error).message, 'fix the file mode or restore nats.creds'));
  }
  if (!creds) return out;
  const tls = await agencyTlsFinding(o.dir, config);
  out.push(tls.finding);
  if (tls.finding.status === 'error') return out;

  const servers = o.servers ?? config.servers;
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, ...natsTlsOptions(tls.ca, servers), authenticator: credsAuthenticator(creds), inboxPrefix: inboxPrefix(config.id), reconnect: false, timeout: o.timeoutMs ?? 3_000 });
  } catch (err) {
    const text = String((err as Error).message);
    if (/does not support 'tls'/i.test(text)) out.push(fail('reachability', `the exchange at ${servers.join(',')} serves plain TCP; this agency verifies the exchange over TLS and refuses to go plain`, 'start the exchange without --plain (a plain exchange is for loopback development only)'));
    else if (/certificate|self.signed|altnames|tls/i.test(text)) out.push(fail('reachability', `the exchange at ${servers.join(',')} fails TLS verification against the federation CA (${text})`, 'is this your federation\'s exchange? a plain (--plain) exchange, or a CA that changed? ask the federation to re-issue (--reissue)'));
    else if (/authoriz|authenticat|expired|revoked/i.test(text)) out.push(fail('reachability', `the exchange at ${servers.join(',')} refuses these credentials (${text})`, `${REISSUE} (revoked, expired, or re-issued while this agency was offline)`));
    else out.push(fail('reachability', `cannot reach ${servers.join(',')}: ${text}`, 'is `liaison exchange up` running there? wrong host or port? use --server URL'));
    return out;
  }
  try {
    out.push(ok('reachability', `connected to ${servers.join(',')}`));
    let directory: Directory | undefined;
    try {
      const reply = await nc.request(directoryRequestSubject(config.id), '', { timeout: o.timeoutMs ?? 3_000 });
      directory = await verifyDirectory(reply.string(), config.root);
      out.push(ok('directory', `verified against the federation root; issued ${directory.issuedAt}`));
      const t = reply.headers?.get(EXCHANGE_TIME_HEADER);
      if (t) {
        const skew = now - Date.parse(t);
        const text = `this host's clock is ${skew >= 0 ? 'ahead of' : 'behind'} the exchange's by ${(Math.abs(skew) / 1000).toFixed(1)} s`;
        out.push(Math.abs(skew) > SKEW_ERROR_MS ? fail('clock skew', text, 'synchronise the clock (NTP): expiry checks and deadlines depend on it') : Math.abs(skew) > SKEW_WARN_MS ? warn('clock skew', text, 'synchronise the clock (NTP)') : ok('clock skew', text));
      }
    } catch (err) {
      out.push(fail('directory', `the directory could not be fetched or verified: ${(err as Error).message}`, 'check that the exchange serves the directory (liaison exchange up) and that agency.json holds the federation root key'));
    }
    if (directory) {
      const me = directory.agencies.find((a) => a.id === config.id);
      if (!me) out.push(fail('enrolment', `${config.id} is not in the federation directory`, 'the agency was never enrolled in this federation (wrong exchange?)'));
      else if (me.revokedAt) out.push(fail('enrolment', `${config.id} was revoked at ${me.revokedAt}`, 'revocation is final; a new agency id must be enrolled'));
      else {
        const policy = parsePolicy(directory.policy, { file: 'directory:policy.yaml', catalog: typeCatalogOf(loadCatalog()) });
        out.push(ok('policy', `the exchange enforces "${policy.name}" ${policy.hash.slice(0, 16)}…`));
        const roles = policy.agencies[config.id]?.roles ?? [];
        if (roles.join() !== config.roles.join()) {
          out.push(warn('roles', `agency.json says roles ${config.roles.join(', ')}, the policy ${roles.join(', ') || 'none'}`, 'the SDK follows the directory; refresh agency.json with liaison trust enrol --reissue'));
        }
        if (me.natsJwt && me.natsJwt !== jwtOfCreds(creds)) {
          out.push(warn('NATS user JWT', 'nats.creds holds an older user JWT than the directory (a policy change re-issued it)', 'connect once with the SDK (it adopts and saves the new JWT), or re-issue the creds'));
        }
        const jsm = await agencyJetStreamManager(nc);
        const specs = compileConsumers(policy, typeCatalogOf(loadCatalog())).filter((c) => c.agency === config.id && c.replica === 1);
        const missing: string[] = [];
        for (const c of specs) {
          const info = await jsm.consumers.info(c.stream, c.name).catch(() => undefined);
          if (!info) missing.push(c.name);
        }
        out.push(
          missing.length === 0
            ? ok('consumers', `all ${specs.length} durable consumers the policy grants exist`)
            : fail('consumers', `${missing.length} of ${specs.length} consumers are missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`, 'the exchange provisions them from the policy: restart `liaison exchange up`, or apply the policy again (liaison policy apply)'),
        );
        out.push(await agencyQuarantineFinding(nc, config.id, o.timeoutMs ?? 3_000));
      }
    }
  } finally {
    await nc.close();
  }
  return out;
}
