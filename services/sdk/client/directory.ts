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

/** How often a client started from its cached directory asks the exchange again. */
const CACHED_RETRY_MS = 2_000;

/**
 * Where a client keeps the last root-signed directory it verified, to start while the exchange is unreachable (an
 * agency's leaf node). What it loads is verified against the root like a fetched one (expiry included): nothing
 * unsigned steers a client.
 */
export interface DirectoryCache {
  load(): Promise<string | undefined>;
  save(jws: string): Promise<void>;
}

/**
 * Keeps a client's federation view current: fetches the root-signed directory on start and applies
 * every newer verified version pushed by the exchange (enrolments, rotations, revocations). A pushed
 * directory that does not verify, or is older, is ignored and logged.
 */
export class DirectoryWatcher {
  #view: FederationView;
  readonly #sub: Subscription;

  /** True when the view came from the cache at start (the exchange did not answer). */
  fromCache = false;
  #retry: ReturnType<typeof setInterval> | undefined;

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
    /** The last verified directory, used when the exchange does not answer (and kept up to date). */
    cache?: DirectoryCache;
  }): Promise<DirectoryWatcher> {
    let jws: string;
    let cached = false;
    try {
      jws = (await o.nc.request(directoryRequestSubject(o.agency), '', { timeout: o.timeoutMs ?? 5_000 })).string();
    } catch (err) {
      const kept = await o.cache?.load();
      if (kept === undefined) throw asLiaisonError(err, 'ERR_CONNECT', 'the exchange did not answer the directory request (is `liaison exchange up` running?)');
      o.logger.warn({ err: (err as Error).message }, 'the exchange does not answer: starting from the cached federation directory');
      jws = kept;
      cached = true;
    }
    const view = federationView(await verifyDirectory(jws, o.root), o.catalog);
    if (!cached) await o.cache?.save(jws);
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
      await o.cache?.save(text);
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
    watcher.fromCache = cached;
    watcher.#offer = adopt;
    watcher.#fetch = async () => {
      await adopt((await o.nc.request(directoryRequestSubject(o.agency), '', { timeout: o.timeoutMs ?? 5_000 })).string());
    };
    catchUpAfterReconnects(watcher, o.nc, o.logger);
    if (cached) {
      // Started offline: ask the exchange again until it answers, and adopt what it has when newer.
      const w = watcher;
      w.#retry = setInterval(() => {
        void w.refresh().then(
          () => {
            clearInterval(w.#retry);
            w.fromCache = false;
          },
          () => undefined,
        );
      }, CACHED_RETRY_MS);
      w.#retry.unref();
    }
    return watcher;
  }

  current(): FederationView {
    return this.#view;
  }

  /** Set by {@link stop}: the reconnect follower ends. */
  stopped = false;

  stop(): void {
    this.stopped = true;
    clearInterval(this.#retry);
    this.#sub.unsubscribe();
  }
}

/**
 * After every reconnect the directory is fetched again and adopted when newer: a push made while the client was
 * disconnected (its node died; a policy apply on a cluster with a node down) is not delivered later, and a client
 * that kept its old NATS user JWT past the apply's grace would be cut and refused for good.
 */
function catchUpAfterReconnects(watcher: DirectoryWatcher, nc: NatsConnection, logger: Logger): void {
  void (async () => {
    for await (const st of nc.status()) {
      if (watcher.stopped) return;
      if (st.type !== 'reconnect') continue;
      await watcher.refresh().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not fetch the federation directory after reconnecting'));
    }
  })();
}
