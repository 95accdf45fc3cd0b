/**
 * A receive-pipeline laboratory for the parse-bounds tests, the fuzz suite and the fuzz benchmark: a real
 * catalogue, codec, policy and Ed25519 key, a fixed clock, and helpers that seal valid copies or forge
 * envelopes field by field (raw header objects, raw protected headers, raw body bytes), signed for real.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../../services/sdk/envelope/codec.ts';
import { headerToObject, type MessageHeader } from '../../services/sdk/envelope/header.ts';
import { signDetached, signingInput } from '../../services/sdk/envelope/jws.ts';
import type { KeyRecord, OpenContext } from '../../services/sdk/envelope/open.ts';
import { sealMessage, type SealContext, type SealedCopy, type SendOptions } from '../../services/sdk/envelope/seal.ts';
import { uuidv7 } from '../../services/sdk/ids.ts';
import { parsePolicy, type Policy } from '../../services/sdk/policy/index.ts';
import { loadCatalog, type Catalog } from '../../services/sdk/schema/index.ts';
import { sign as edSign } from 'node:crypto';

/** The policy of the lab: the police sends documents and referrals; the NGO receives them. */
export const LAB_POLICY = `
version: 1
name: parse-lab
roles:
  police:
    send: [DocumentReport, CaseReferral]
  ngo:
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: any
      - types: [CaseReferral]
        tier: personal
        scope: direct
agencies:
  xa-police: { name: Xandria Police, country: XAA, roles: [police] }
  xb-ngo: { name: Bellmark Harbour NGO, country: XBB, roles: [ngo] }
`;

/** A valid DocumentReport body. */
export const LAB_REPORT = {
  documentNumber: 'XA1234567',
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_STOLEN',
  reportedAt: '2026-11-27T09:00:00Z',
};

/** The lab's fixed "now". */
export const LAB_NOW = Date.parse('2026-11-28T12:00:00Z');

/** What the lab offers. */
export interface Lab {
  catalog: Catalog;
  codec: EnvelopeCodec;
  policy: Policy;
  privateKey: KeyObject;
  kid: string;
  sealCtx: SealContext;
  openCtx: OpenContext;
  /** Seal a valid copy from xa-police (broadcast unless `opts.to`). */
  seal(type: string, body: unknown, opts?: SendOptions): SealedCopy;
  /** A valid signed header for `type` (as a MessageHeader), to change before forging. */
  header(type: string, over?: Partial<MessageHeader>): MessageHeader;
  /**
   * Build envelope bytes from a raw protobufjs header object and raw body bytes, bypassing the codec's
   * checks, signed for real with the police key (`protectedJson` replaces the protected header bytes).
   */
  forge(headerObject: Record<string, unknown>, body: Uint8Array, protectedJson?: string): Uint8Array;
}

/** Build the lab (one key, one policy). */
export async function createLab(): Promise<Lab> {
  const catalog = loadCatalog();
  const codec = createEnvelopeCodec(catalog.envelopeTypes);
  const policy = parsePolicy(LAB_POLICY, { file: 'parse-lab.yaml', catalog: typeCatalogOf(catalog) });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK);
  const record: KeyRecord = { publicKey, expiresAt: new Date(LAB_NOW + 86_400_000) };
  const clock = { now: () => LAB_NOW };
  const sealCtx: SealContext = { catalog, codec, policy, sender: 'xa-police', key: { privateKey, kid }, clock };
  const openCtx: OpenContext = {
    catalog,
    codec,
    policy,
    keys: (agency, k) => (agency === 'xa-police' && k === kid ? record : undefined),
    self: 'xb-ngo',
    clock,
  };
  const { Signed, Header } = catalog.envelopeTypes;
  return {
    catalog,
    codec,
    policy,
    privateKey,
    kid,
    sealCtx,
    openCtx,
    seal: (type, body, opts = {}) => sealMessage(sealCtx, type, body, opts).copies[0]!,
    header: (type, over = {}) => ({
      id: uuidv7(LAB_NOW),
      type: catalog.get(type).fullName,
      sender: 'xa-police',
      recipient: 'all',
      createdAt: new Date(LAB_NOW),
      caseRef: '',
      correlationId: '',
      causationId: '',
      handling: 'H0',
      tlp: 'GREEN',
      tier: 'operational',
      policyHash: policy.hash,
      ...over,
    }),
    forge(headerObject, body, protectedJson) {
      const signed = Signed.encode(Signed.create({ header: Header.fromObject(headerObject), body })).finish();
      if (protectedJson === undefined) {
        const jws = signDetached(signed, { privateKey, kid });
        return codec.encodeEnvelope({ signed, protected: jws.protected, signature: jws.signature });
      }
      const prot = Buffer.from(protectedJson, 'utf8');
      const signature = edSign(null, signingInput(Buffer.from(prot.toString('base64url'), 'ascii'), signed), privateKey);
      return codec.encodeEnvelope({ signed, protected: prot, signature });
    },
  };
}

/** A header object as protobufjs takes it, from a header, with raw overrides (e.g. an out-of-range timestamp). */
export function rawHeader(h: MessageHeader, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...headerToObject(h), ...over };
}
