import type { NatsConnection } from '@nats-io/transport-node';
import type { CrossContext, CrossSide, CrossSupport } from '../envelope/cross.ts';
import type { Logger } from '../logging.ts';
import type { TypeCatalog } from '../policy/index.ts';
import { directoryRequestSubject } from '../subjects.ts';
import { verifyDirectory } from '../trust/directory.ts';
import type { Ed25519PublicJwk } from '../trust/keys.ts';
import { federationView, type FederationView } from './directory.ts';

/** How often a client asks its exchange again for the peers' directories (enrolments and revocations over there). */
export const FOREIGN_REFRESH_MS = 5_000;

/** The request body that asks the directory service for a peer federation's directory instead of our own. */
export function foreignDirectoryRequest(peer: string): string {
  return `foreign:${peer}`;
}

/**
 * A client's view across its federation's agreements (bridge design §6): the sides of the agreements its own
 * root-signed directory carries (each verified by `support` against both roots), and each peer's root-signed
 * directory, fetched from the own exchange (which keeps the latest the bridge delivered) and verified here against
 * the peer root the agreement names. Nothing unsigned steers it: an unverifiable foreign directory is ignored.
 */
export class CrossView {
  readonly #o: { nc: NatsConnection; agency: string; root: Ed25519PublicJwk; catalog: TypeCatalog; support: CrossSupport; logger: Logger };
  #federation = '';
  #sides = new Map<string, CrossSide>();
  readonly #foreign = new Map<string, FederationView>();
  /** The JWS each peer view came from (an unchanged answer is not verified again). */
  readonly #jws = new Map<string, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(o: { nc: NatsConnection; agency: string; root: Ed25519PublicJwk; catalog: TypeCatalog; support: CrossSupport; logger: Logger }) {
    this.#o = o;
  }

  #own: FederationView | undefined;

  /** Adopt a verified own directory: its agreements' sides, then the peers' directories. */
  async adopt(view: FederationView): Promise<void> {
    this.#own = view;
    this.#compile();
    if (this.#sides.size > 0 && !this.#timer) {
      this.#timer = setInterval(() => void this.refresh(), FOREIGN_REFRESH_MS);
      this.#timer.unref();
    }
    await this.refresh();
  }

  /** The sides of the own directory's agreements, compiled with the peers' policies known so far. */
  #compile(): void {
    const view = this.#own;
    if (!view) return;
    const d = view.directory;
    this.#federation = d.federation;
    const sides = this.#o.support.sides({
      federation: d.federation,
      root: this.#o.root,
      agreements: d.agreements ?? [],
      policy: view.policy,
      catalog: this.#o.catalog,
      now: new Date(),
      peerPolicies: new Map([...this.#foreign].map(([peer, v]) => [peer, v.policy])),
      onIssue: (message) => this.#o.logger.warn({ issue: message }, 'agreement left out'),
    });
    this.#sides = new Map(sides.map((s) => [s.peer, s]));
    for (const peer of [...this.#foreign.keys()]) {
      if (!this.#sides.has(peer)) {
        this.#foreign.delete(peer);
        this.#jws.delete(peer);
      }
    }
  }

  /** Fetch every peer's directory from the exchange now (one refresh at a time); failures are logged, never thrown. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#fetchAll().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #fetchAll(): Promise<void> {
    let changed = false;
    for (const side of [...this.#sides.values()]) {
      try {
        const reply = await this.#o.nc.request(directoryRequestSubject(this.#o.agency), foreignDirectoryRequest(side.peer), { timeout: 5_000 });
        const jws = reply.string();
        if (jws === '' || this.#jws.get(side.peer) === jws) continue;
        const d = await verifyDirectory(jws, side.peerRoot);
        if (d.federation !== side.peer) throw new Error(`directory of federation ${d.federation}, not ${side.peer}`);
        const have = this.#foreign.get(side.peer);
        if (have && Date.parse(have.directory.issuedAt) >= Date.parse(d.issuedAt)) continue;
        this.#foreign.set(side.peer, federationView(d, this.#o.catalog));
        this.#jws.set(side.peer, jws);
        changed = true;
      } catch (err) {
        this.#o.logger.warn({ peer: side.peer, err: (err as Error).message }, 'no verified directory of the peer federation');
      }
    }
    if (changed) this.#compile();
  }

  /** The context the send and receive pipelines use; undefined when no agreement is in force. */
  context(): CrossContext | undefined {
    if (this.#sides.size === 0) return undefined;
    return {
      federation: this.#federation,
      sides: this.#sides,
      keys: (peer) => {
        const view = this.#foreign.get(peer);
        if (!view) {
          void this.refresh();
          return undefined;
        }
        return (agency, kid) => {
          const k = view.keys(agency, kid);
          if (!k) void this.refresh();
          return k;
        };
      },
      localise: this.#o.support.localise,
    };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
