import { localise } from '../../services/bridge/agreement/model.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { systemClock } from '../../services/sdk/clock.ts';
import { createEnvelopeCodec } from '../../services/sdk/envelope/codec.ts';
import { sealMessage, type SealedMessage } from '../../services/sdk/envelope/seal.ts';
import { openFederation } from '../../services/trust/index.ts';
import type { TwoFederations } from './two-federations.ts';

/**
 * Seal, as med's agency `client`, a message of `type` to `to` in atl under agreement `id` with a cross context that
 * admits anything — what the agency's own SDK refuses (a pair, type or tier no flow names). Really signed with the
 * agency's key, so a test can put it where a compromised bridge or a raw client would, and see the other checks hold.
 */
export async function sealAdmittingAnything(feds: TwoFederations, id: string, client: LiaisonClient, type: string, body: unknown, to: string): Promise<SealedMessage> {
  const admitAll = { agreementId: id, peer: 'atl', peerRoot: (await openFederation(feds.atl.trustDir)).root.publicJwk, sendTiers: () => ['personal' as const], checkSend: () => undefined, checkReceive: () => undefined };
  return sealMessage(
    {
      catalog: feds.med.catalog,
      codec: createEnvelopeCodec(feds.med.catalog.envelopeTypes),
      policy: client.policy,
      sender: client.id,
      key: client.identity.key,
      clock: systemClock,
      bridges: { federation: 'med', sides: new Map([['atl', admitAll]]), keys: () => undefined, localise },
    },
    type,
    body,
    { to },
  );
}
