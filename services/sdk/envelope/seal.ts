import type { Clock } from '../clock.ts';
import { LiaisonError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { Policy } from '../policy/index.ts';
import type { SendPlan } from '../policy/index.ts';
import { plannedSend } from '../policy/send-plans.ts';
import { checkConsent, type ConsentEvidence } from '../policy/consent.ts';
import { encodeBody, fromJson, project, toJson, type Catalog, type MessageInfo } from '../schema/index.ts';
import { BROADCAST, messageSubject } from '../subjects.ts';
import type { HandlingCode, Tier, TlpLabel } from '../tier.ts';
import type { EnvelopeCodec } from './codec.ts';
import { originOf, type CrossContext } from './cross.ts';
import type { InformationReliability, MessageHeader, SourceReliability } from './header.ts';
import { signDetached, signDetachedWith, type JwsParts, type Signer, type SigningKey } from './jws.ts';
import { natsHeadersFor } from './nats-headers.ts';
import { checkSafeguards } from './safeguards.ts';

/** What a sender chooses about a message besides its type and body. */
export interface SendOptions {
  /** Recipient agency id, or `all` (default) for a broadcast to every permitted agency. */
  to?: string;
  handling?: HandlingCode;
  tlp?: TlpLabel;
  caseRef?: string;
  correlationId?: string;
  causationId?: string;
  sourceReliability?: SourceReliability;
  informationReliability?: InformationReliability;
  expiresAt?: Date;
  /** Message id; a fresh UUIDv7 by default. Re-sending with the same id is de-duplicated. */
  id?: string;
  /** On a reply: base64url SHA-256 of the request envelope it answers. */
  requestHash?: string;
  /**
   * Onward dissemination of a type the policy's `consent` list names: the originator's
   * DisseminationConsentResponse as received (see policy/consent.ts); without it the send is refused.
   */
  consent?: ConsentEvidence;
}

/** One signed copy of a message, ready to publish. */
export interface SealedCopy {
  tier: Tier;
  subject: string;
  /** Agencies the policy says receive this copy. */
  recipients: string[];
  data: Uint8Array;
  headers: Record<string, string>;
}

/** A message sealed for sending: one copy per tier that some permitted recipient needs. */
export interface SealedMessage {
  id: string;
  type: string;
  copies: SealedCopy[];
}

/** What sealing needs. */
export interface SealContext {
  catalog: Catalog;
  codec: EnvelopeCodec;
  policy: Policy;
  sender: string;
  key: SigningKey;
  clock: Clock;
  /** Largest NATS payload the exchange accepts; larger copies are refused, never truncated. */
  maxPayload?: number;
  /** The cross-federation agreements in force (cross.ts): a qualified recipient `<peer>:<agency>` is sent across. */
  bridges?: CrossContext;
}

/**
 * Validate, plan, project and sign a message. The policy decides the copies (fails fast with the
 * rule that refused); each copy holds only the fields visible at its tier and is signed separately.
 * Fields a treaty requires (the art. 9 safeguards of a boarding authorisation or report) are checked
 * here too, with the case registry's own guard (safeguards.ts).
 */
export function sealMessage(ctx: SealContext, typeName: string, body: unknown, opts: SendOptions = {}): SealedMessage {
  const plan = planCopies(ctx, typeName, body, opts);
  return assembleCopies(ctx, plan, plan.copies.map((c) => signDetached(c.signed, ctx.key)));
}

/**
 * {@link sealMessage} with the copies signed by `sign` (a crypto pool's worker threads, issue 16): the same
 * validation, plan, projection and checks, on the calling thread, before anything is signed.
 */
export async function sealMessageWith(sign: Signer, ctx: SealContext, typeName: string, body: unknown, opts: SendOptions = {}): Promise<SealedMessage> {
  const plan = planCopies(ctx, typeName, body, opts);
  return assembleCopies(ctx, plan, await Promise.all(plan.copies.map((c) => signDetachedWith(sign, c.signed, ctx.key))));
}

/** A copy planned and encoded, waiting for its signature. */
interface UnsignedCopy {
  tier: Tier;
  recipients: string[];
  header: MessageHeader;
  signed: Uint8Array;
}

/** What {@link sealMessage} has before signing: the type, the id and one encoded copy per tier. */
interface SealPlan {
  id: string;
  info: MessageInfo;
  recipient: string;
  copies: UnsignedCopy[];
}

/** Validate, plan (the policy or an agreement), check the safeguards and consent, project and encode each copy. */
function planCopies(ctx: SealContext, typeName: string, body: unknown, opts: SendOptions): SealPlan {
  const info = ctx.catalog.get(typeName);
  const message = fromJson(info, body);
  const recipient = opts.to ?? BROADCAST;
  const handling = opts.handling ?? 'H0';
  const tlp = opts.tlp ?? 'GREEN';
  const across = crossPlan(ctx, info.name, recipient);
  // Remembered per policy (send-plans.ts): a service sends the same few combinations over and over.
  const plan = across ?? plannedSend(ctx.policy, { sender: ctx.sender, type: info.name, recipient, handling, tlp });
  checkSafeguards(info.name, () => toJson(info, message));
  const now = ctx.clock.now();
  if (!across && ctx.policy.consent?.includes(info.name)) checkConsent(ctx.policy, { sender: ctx.sender, type: info.name, recipient, body: toJson(info, message), consent: opts.consent, now });
  const id = opts.id ?? uuidv7(now);
  const copies: UnsignedCopy[] = [];
  for (const copy of plan.copies) {
    const header: MessageHeader = {
      id,
      type: info.fullName,
      sender: ctx.sender,
      recipient,
      createdAt: new Date(now),
      caseRef: opts.caseRef ?? '',
      correlationId: opts.correlationId ?? '',
      causationId: opts.causationId ?? '',
      handling,
      tlp,
      sourceReliability: opts.sourceReliability,
      informationReliability: opts.informationReliability,
      expiresAt: opts.expiresAt,
      tier: copy.tier,
      policyHash: ctx.policy.hash,
      requestHash: opts.requestHash,
    };
    const signed = ctx.codec.encodeSigned(header, encodeBody(info, project(info, message, copy.tier)));
    copies.push({ tier: copy.tier, recipients: [...copy.recipients], header, signed });
  }
  return { id, info, recipient, copies };
}

/** The envelopes of a plan's copies with their signatures (`jws[i]` for copy i); a copy over the exchange's payload limit is refused. */
function assembleCopies(ctx: SealContext, plan: SealPlan, jws: JwsParts[]): SealedMessage {
  const { info, recipient } = plan;
  const copies = plan.copies.map((copy, i): SealedCopy => {
    const data = ctx.codec.encodeEnvelope({ signed: copy.signed, protected: jws[i]!.protected, signature: jws[i]!.signature });
    if (ctx.maxPayload !== undefined && data.byteLength > ctx.maxPayload) {
      throw new LiaisonError(
        'ERR_MESSAGE_TOO_LARGE',
        `${info.name} copy at tier ${copy.tier} is ${data.byteLength} bytes; the exchange accepts at most ${ctx.maxPayload}`,
        { size: data.byteLength, max: ctx.maxPayload },
      );
    }
    return {
      tier: copy.tier,
      subject: messageSubject({ tier: copy.tier, family: info.family, type: info.name, sender: ctx.sender, recipient }),
      recipients: copy.recipients,
      data,
      headers: natsHeadersFor(copy.header, ctx.key),
    };
  });
  return { id: plan.id, type: info.fullName, copies };
}

/**
 * The copies of a send to an agency of a peer federation (`<peer>:<agency>`), planned by the agreement with it
 * (bridge design §3): one per tier the flow admits, each for that recipient only; undefined for a local recipient.
 * No agreement with the peer, or no flow for this sender, recipient and type: the typed policy refusal.
 */
function crossPlan(ctx: SealContext, type: string, recipient: string): SendPlan | undefined {
  const b = ctx.bridges;
  const peer = originOf(recipient, b?.federation ?? '');
  if (!recipient.includes(':') || (b && peer === b.federation)) return undefined;
  const side = b?.sides.get(peer);
  if (!side) {
    throw new LiaisonError('ERR_POLICY_SEND_DENIED', `${ctx.sender} may not send ${type} to ${recipient}: no cross-federation agreement with ${peer} is in force`, { sender: ctx.sender, recipient, type });
  }
  side.checkSend({ sender: ctx.sender, recipient, type });
  const tiers = side.sendTiers(ctx.sender, recipient, type);
  if (tiers.length === 0) {
    throw new LiaisonError('ERR_POLICY_SEND_DENIED', `${ctx.sender} may not send ${type} to ${recipient}: no flow of agreement ${side.agreementId} admits it`, { sender: ctx.sender, recipient, type });
  }
  return { copies: tiers.map((tier) => ({ tier, recipients: [recipient] })), rule: `agreement ${side.agreementId}`, skipped: [] };
}
