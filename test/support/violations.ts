import { connect, credsAuthenticator, type NatsConnection, errors } from '@nats-io/transport-node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inboxPrefix } from '../../services/sdk/subjects.ts';

/** A permission violation the server reported. */
export interface Violation {
  operation: 'publish' | 'subscription';
  subject: string;
}

/**
 * A raw nats.js connection with an agency's own `.creds`, recording every permission violation the
 * server reports. The rogue-client suite uses it to try what the policy denies.
 */
export class RawAgency {
  readonly nc: NatsConnection;
  readonly violations: Violation[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(nc: NatsConnection) {
    this.nc = nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) {
          this.violations.push({ operation: s.error.operation, subject: s.error.subject });
          for (const w of this.#waiters) w();
        }
      }
    })();
  }

  /** Connect with AGENCY_DIR/nats.creds over TLS verified with AGENCY_DIR/ca.pem; `prefix` overrides the inbox prefix (default: the agency's own). */
  static async connect(url: string, agencyDir: string, agencyId: string, prefix?: string): Promise<RawAgency> {
    const creds = await readFile(join(agencyDir, 'nats.creds'));
    const ca = await readFile(join(agencyDir, 'ca.pem'), 'utf8');
    const nc = await connect({ servers: url, tls: { ca }, authenticator: credsAuthenticator(new Uint8Array(creds)), inboxPrefix: prefix ?? inboxPrefix(agencyId), reconnect: false });
    return new RawAgency(nc);
  }

  /** Connect with any `.creds` (a bridge user's, say) over TLS verified with `ca`, using inbox prefix `prefix`. */
  static async connectCreds(url: string, creds: Uint8Array, ca: string, prefix: string): Promise<RawAgency> {
    const nc = await connect({ servers: url, tls: { ca }, authenticator: credsAuthenticator(creds), inboxPrefix: prefix, reconnect: false });
    return new RawAgency(nc);
  }

  /** True when the server reports a violation for `subject` within `timeoutMs`. */
  async refused(subject: string, timeoutMs = 2_000): Promise<boolean> {
    const seen = () => this.violations.some((v) => v.subject === subject);
    if (seen()) return true;
    return await new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(v);
      };
      const check = () => {
        if (seen()) done(true);
      };
      const timer = setTimeout(() => done(seen()), timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
