import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { parsePolicy, type Policy, type TypeCatalog } from '../policy/index.ts';
import { DIRECTORY_UPDATE_SUBJECT, directoryRequestSubject } from '../subjects.ts';
import { directoryKey, verifyDirectory, type Directory } from '../trust/directory.ts';
import type { Ed25519PublicJwk } from '../trust/keys.ts';
import type { KeyResolver } from '../envelope/open.ts';

/** What a client knows of the federation: the verified directory, its policy, and key lookup. */
export interface FederationView {
  directory: Directory;
  policy: Policy;
  keys: KeyResolver;
}

/** Build the view from a verified directory. */
export function federationView(directory: Directory, catalog: TypeCatalog): FederationView {
  const policy = parsePolicy(directory.policy, { file: 'directory:policy.yaml', catalog });
  const keys: KeyResolver = (agency, kid) => {
    const k = directoryKey(directory, agency, kid);
    if (!k) return undefined;
    return {
      publicKey: k.publicKey,
      expiresAt: new Date((k.claims.exp ?? 0) * 1000),
      supersededAt: k.supersededAt,
      revokedAt: k.revokedAt,
    };
  };
  return { directory, policy, keys };
}

/**
 * Keeps a client's federation view current: fetches the root-signed directory on start and applies
 * every newer verified version pushed by the exchange (enrolments, rotations, revocations). A pushed
 * directory that does not verify, or is older, is ignored and logged.
 */
export class DirectoryWatcher {
  #view: FederationView;
  readonly #sub: Subscription;

  private constructor(view: FederationView, sub: Subscription) {
    this.#view = view;
    this.#sub = sub;
  }

  #fetch?: () => Promise<void>;

  /** Fetch the directory now and adopt it when it is newer. */
  async refresh(): Promise<void> {
    await this.#fetch?.();
  }

  #offer?: (jws: string) => Promise<boolean>;

  /**
   * A directory JWS that arrived by another route (a status ping): verified against the federation root and
   * adopted when newer. True when it was adopted; a JWS that does not verify throws its typed error and
   * changes nothing — nothing unsigned steers a client.
   */
  async offer(jws: string): Promise<boolean> {
    return (await this.#offer?.(jws)) ?? false;
  }

  static async start(o: {
    nc: NatsConnection;
    /** The agency whose own directory request subject to use. */
    agency: string;
    root: Ed25519PublicJwk;
    catalog: TypeCatalog;
    logger: Logger;
    timeoutMs?: number;
    /** Called after each newer verified directory is adopted (the client re-reads its credentials and consumers). */
    onUpdate?: (view: FederationView) => void;
  }): Promise<DirectoryWatcher> {
    let jws: string;
    try {
      jws = (await o.nc.request(directoryRequestSubject(o.agency), '', { timeout: o.timeoutMs ?? 5_000 })).string();
    } catch (err) {
      throw asLiaisonError(err, 'ERR_CONNECT', 'the exchange did not answer the directory request (is `liaison exchange up` running?)');
    }
    const view = federationView(await verifyDirectory(jws, o.root), o.catalog);
    let watcher: DirectoryWatcher | undefined;
    const adopt = async (text: string): Promise<boolean> => {
      const d = await verifyDirectory(text, o.root);
      if (!watcher || Date.parse(d.issuedAt) <= Date.parse(watcher.#view.directory.issuedAt)) return false;
      try {
        watcher.#view = federationView(d, o.catalog);
      } catch (err) {
        // Signed by the root and newer, yet this process cannot enforce it: it is behind, and says so.
        throw new LiaisonError('ERR_POLICY_STALE', `the federation directory of ${d.issuedAt} verifies but its policy cannot be adopted: ${(err as Error).message}`, { issuedAt: d.issuedAt }, { cause: err });
      }
      o.logger.info({ issuedAt: d.issuedAt, policyHash: watcher.#view.policy.hash }, 'federation directory updated');
      o.onUpdate?.(watcher.#view);
      return true;
    };
    const sub = o.nc.subscribe(DIRECTORY_UPDATE_SUBJECT, {
      callback: (err, msg) => {
        if (err || !watcher) return;
        void adopt(msg.string()).catch((e: unknown) => o.logger.warn({ code: e instanceof LiaisonError ? e.code : undefined }, 'ignored a directory update that does not verify'));
      },
    });
    watcher = new DirectoryWatcher(view, sub);
    watcher.#offer = adopt;
    watcher.#fetch = async () => {
      await adopt((await o.nc.request(directoryRequestSubject(o.agency), '', { timeout: o.timeoutMs ?? 5_000 })).string());
    };
    return watcher;
  }

  current(): FederationView {
    return this.#view;
  }

  stop(): void {
    this.#sub.unsubscribe();
  }
}
