import type { CrossSide, CrossSupport } from '../sdk/envelope/cross.ts';
import { localise, peerOf } from './agreement/model.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { compileBridgeSide } from './compile.ts';
import { checkCrossReceive, checkCrossSend, crossSendTiers } from './decide.ts';

/**
 * What a client needs to send and receive across its federation's agreements (pass it as
 * `LiaisonClient.connect({ bridges: bridgeSupport })`): each agreement the root-signed directory carries is
 * verified here against both roots (the own one being the client's root) and compiled for the federation's policy;
 * the decisions are the agreement's (decide.ts).
 */
export const bridgeSupport: CrossSupport = {
  sides(o) {
    const out: CrossSide[] = [];
    for (const doc of o.agreements) {
      try {
        const agreement = verifyAgreement(doc, { federation: o.federation, root: o.root }, o.now, { catalog: o.catalog });
        const peerPolicy = o.peerPolicies?.get(peerOf(agreement, o.federation)?.name ?? '');
        const side = compileBridgeSide(agreement, o.federation, o.policy, o.catalog, peerPolicy ? { peerPolicy } : {});
        const peerRoot = agreement.federations.find((f) => f.name === side.peer)!.root;
        out.push({
          agreementId: agreement.id,
          peer: side.peer,
          peerRoot,
          outageMs: agreement.outageMs ?? 0,
          sendTiers: (sender, recipient, type) => crossSendTiers(side, sender, recipient, type),
          checkSend: (req) => void checkCrossSend(side, req),
          checkReceive: (req) => void checkCrossReceive(side, req),
          namesPair: (req) => [...side.outbound, ...side.inbound].some((r) => r.sender === req.sender && r.recipient === req.recipient && r.type === req.type),
        });
      } catch (err) {
        o.onIssue?.((err as Error).message);
      }
    }
    return out;
  },
  localise,
};
