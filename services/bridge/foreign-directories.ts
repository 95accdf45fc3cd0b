import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../sdk/logging.ts';
import { verifyDirectory } from '../sdk/trust/directory.ts';
import type { Ed25519PublicJwk } from '../sdk/trust/keys.ts';
import { listAppliedAgreements } from '../trust/applied-agreements.ts';
import { parseAgreement } from './agreement/load.ts';
import { peerOf } from './agreement/model.ts';
import { FOREIGN_DIRECTORY_SUBJECTS } from './subjects.ts';

/** The latest verified directory of each peer federation, as the exchange keeps and serves it. */
export interface ForeignDirectories {
  /** The peer's latest directory JWS that verified against the peer root of an applied agreement, if any. */
  get(peer: string): string | undefined;
  stop(): void;
}

/**
 * Keep the latest root-signed directory of each peer federation the bridge publishes on
 * `liaison.v1.trust.foreign.<peer>` (bridge design §6): kept only when it verifies against the peer root named by
 * an agreement applied in `trustDir` (read again for each publish) and is newer than the one kept. Clients get it
 * from the directory service and verify it again themselves: the exchange is not trusted with it.
 */
export function startForeignDirectories(o: { nc: NatsConnection; trustDir: string; federation: string; logger?: Logger }): ForeignDirectories {
  const kept = new Map<string, { jws: string; issuedAt: number }>();
  const peerRoot = async (peer: string): Promise<Ed25519PublicJwk | undefined> => {
    for (const { agreement } of await listAppliedAgreements(o.trustDir)) {
      try {
        const p = peerOf(parseAgreement(agreement.text), o.federation);
        if (p?.name === peer) return p.root;
      } catch {
        // verified when applied; a file edited since then names no root here
      }
    }
    return undefined;
  };
  const offer = async (peer: string, jws: string): Promise<void> => {
    if (kept.get(peer)?.jws === jws) return;
    const root = await peerRoot(peer);
    if (!root) throw new Error(`no applied agreement with ${peer}`);
    const d = await verifyDirectory(jws, root);
    if (d.federation !== peer) throw new Error(`a directory of ${d.federation} published as ${peer}'s`);
    const issuedAt = Date.parse(d.issuedAt);
    if ((kept.get(peer)?.issuedAt ?? -Infinity) >= issuedAt) return;
    kept.set(peer, { jws, issuedAt });
    o.logger?.info({ peer, issuedAt: d.issuedAt }, 'peer federation directory updated');
  };
  const sub: Subscription = o.nc.subscribe(FOREIGN_DIRECTORY_SUBJECTS, {
    callback: (err, msg) => {
      if (err) return;
      const peer = msg.subject.split('.').at(-1) ?? '';
      void offer(peer, msg.string()).catch((e: unknown) => o.logger?.warn({ peer, err: (e as Error).message }, 'ignored a peer directory that does not verify'));
    },
  });
  return {
    get: (peer) => kept.get(peer)?.jws,
    stop: () => sub.unsubscribe(),
  };
}
