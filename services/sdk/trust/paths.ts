import { join } from 'node:path';

/** File locations inside a federation TRUST_DIR (this interface is the layout; `liaison trust init` creates it). */
export interface TrustPaths {
  dir: string;
  rootKey: string;
  rootPub: string;
  policy: string;
  natsDir: string;
  operatorSeed: string;
  operatorJwt: string;
  accountSeed: string;
  accountJwt: string;
  systemSeed: string;
  systemJwt: string;
  adminCreds: string;
  sysCreds: string;
  agenciesDir: string;
  directory: string;
  agencyRecord(id: string): string;
  /** Each agency's own NATS account: its seed (0600) and JWT (nats/agencies/<id>.nk, .jwt). */
  agencyAccountsDir: string;
  agencyAccountSeed(id: string): string;
  agencyAccountJwt(id: string): string;
  /** The federation's TLS material (tls.ts): CA certificate and key, the exchange's server certificate and key. */
  tlsDir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/** The paths of TRUST_DIR `dir`. */
export function trustPaths(dir: string): TrustPaths {
  const natsDir = join(dir, 'nats');
  const agenciesDir = join(dir, 'agencies');
  const tlsDir = join(dir, 'tls');
  return {
    dir,
    rootKey: join(dir, 'root-key.jwk'),
    rootPub: join(dir, 'root.pub.jwk'),
    policy: join(dir, 'policy.yaml'),
    natsDir,
    operatorSeed: join(natsDir, 'operator.nk'),
    operatorJwt: join(natsDir, 'operator.jwt'),
    accountSeed: join(natsDir, 'account.nk'),
    accountJwt: join(natsDir, 'account.jwt'),
    systemSeed: join(natsDir, 'system.nk'),
    systemJwt: join(natsDir, 'system.jwt'),
    adminCreds: join(natsDir, 'exchange-admin.creds'),
    sysCreds: join(natsDir, 'sys.creds'),
    agenciesDir,
    directory: join(dir, 'directory.jws'),
    agencyRecord: (id: string) => join(agenciesDir, `${id}.json`),
    agencyAccountsDir: join(natsDir, 'agencies'),
    agencyAccountSeed: (id: string) => join(natsDir, 'agencies', `${id}.nk`),
    agencyAccountJwt: (id: string) => join(natsDir, 'agencies', `${id}.jwt`),
    tlsDir,
    caCert: join(tlsDir, 'ca.pem'),
    caKey: join(tlsDir, 'ca-key.pem'),
    serverCert: join(tlsDir, 'server.pem'),
    serverKey: join(tlsDir, 'server-key.pem'),
  };
}

/** File locations inside an AGENCY_DIR. */
export interface AgencyPaths {
  dir: string;
  config: string;
  signingKey: string;
  natsCreds: string;
  /** The federation CA certificate (public): clients verify the exchange's TLS certificate against it. */
  caCert: string;
}

/** The paths of AGENCY_DIR `dir`. */
export function agencyPaths(dir: string): AgencyPaths {
  return { dir, config: join(dir, 'agency.json'), signingKey: join(dir, 'signing-key.jwk'), natsCreds: join(dir, 'nats.creds'), caCert: join(dir, 'ca.pem') };
}

/** Agency ids: a NATS subject token, lowercase, not `all`. */
export const AGENCY_ID_PATTERN = /^[a-z][a-z0-9-]{1,40}$/;
