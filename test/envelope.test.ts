import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, flattenedVerify, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEnvelopeCodec, type EnvelopeCodec } from '../services/sdk/envelope/codec.ts';
import { signDetached, toFlattenedJws } from '../services/sdk/envelope/jws.ts';
import { natsHeadersFor } from '../services/sdk/envelope/nats-headers.ts';
import { openMessage, type KeyRecord, type OpenContext } from '../services/sdk/envelope/open.ts';
import { sealMessage, type SealContext, type SealedCopy } from '../services/sdk/envelope/seal.ts';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import { uuidv7 } from '../services/sdk/ids.ts';
import { parsePolicy, type Policy } from '../services/sdk/policy/index.ts';
import { encodeBody, loadCatalog, type Catalog } from '../services/sdk/schema/index.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';

const POLICY = `
version: 1
name: envelope-unit
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

const REPORT = {
  documentNumber: 'XA1234567',
  issuingCountry: 'XAA',
  documentType: 'DOCUMENT_TYPE_PASSPORT',
  status: 'DOCUMENT_STATUS_STOLEN',
};

interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
}

async function makeKey(): Promise<TestKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK);
  return { privateKey, publicKey, kid };
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  try {
    fn();
  } catch (err) {
    expect(isLiaisonError(err) ? err.code : err).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

describe('envelope: signed copies, JWS and the receive pipeline', () => {
  let catalog: Catalog;
  let codec: EnvelopeCodec;
  let policy: Policy;
  let police: TestKey;
  let keyRecords: Map<string, KeyRecord>;
  const now = Date.parse('2026-11-28T12:00:00Z');
  const clock = { now: () => now };

  beforeAll(async () => {
    catalog = loadCatalog();
    codec = createEnvelopeCodec(catalog.envelopeTypes);
    policy = parsePolicy(POLICY, { file: 'unit.yaml', catalog: typeCatalogOf(catalog) });
    police = await makeKey();
    keyRecords = new Map([[`xa-police/${police.kid}`, { publicKey: police.publicKey, expiresAt: new Date(now + 86_400_000) }]]);
  });

  const sealCtx = (over: Partial<SealContext> = {}): SealContext => ({
    catalog,
    codec,
    policy,
    sender: 'xa-police',
    key: { privateKey: police.privateKey, kid: police.kid },
    clock,
    ...over,
  });
  const openCtx = (over: Partial<OpenContext> = {}): OpenContext => ({
    catalog,
    codec,
    policy,
    keys: (agency, kid) => keyRecords.get(`${agency}/${kid}`),
    self: 'xb-ngo',
    clock,
    ...over,
  });
  const open = (c: SealedCopy, over: Partial<OpenContext> = {}) =>
    openMessage(openCtx(over), { subject: c.subject, data: c.data, header: (n) => c.headers[n] });

  it('a broadcast becomes one signed copy per needed tier, and the receiver gets the typed body', () => {
    const sealed = sealMessage(sealCtx(), 'DocumentReport', REPORT, { caseRef: 'CASE-1' });
    expect(sealed.copies.map((c) => c.tier)).toEqual(['operational']);
    const copy = sealed.copies[0]!;
    expect(copy.subject).toBe('liaison.v1.operational.documents.DocumentReport.xa-police.all');
    const msg = open(copy);
    expect(msg.header.id).toBe(sealed.id);
    expect(msg.header.caseRef).toBe('CASE-1');
    expect(msg.type).toBe('DocumentReport');
    expect(msg.body.documentNumber).toBe('XA1234567');
  });

  it('a standard JWS library (jose flattenedVerify) verifies a Liaison signature over the signed bytes', async () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const parts = codec.decodeEnvelope(copy.data);
    const result = await flattenedVerify(toFlattenedJws(parts), police.publicKey);
    expect(Buffer.from(result.payload).equals(Buffer.from(parts.signed))).toBe(true);
    expect(result.protectedHeader).toMatchObject({ alg: 'Ed25519', b64: false, kid: police.kid });
    const tampered = Uint8Array.from(parts.signed);
    tampered[tampered.length - 1]! ^= 1;
    await expect(flattenedVerify(toFlattenedJws({ ...parts, signed: tampered }), police.publicKey)).rejects.toThrow();
  });

  it('one flipped bit in the body or the signature is rejected as ERR_SIGNATURE_INVALID', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const parts = codec.decodeEnvelope(copy.data);
    const signed = codec.decodeSigned(parts.signed);
    const bodyStart = parts.signed.length - signed.body.length;
    let checked = 0;
    for (let i = bodyStart; i < parts.signed.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const s = Uint8Array.from(parts.signed);
        s[i]! ^= 1 << bit;
        const data = codec.encodeEnvelope({ ...parts, signed: s });
        expectCode(() => openMessage(openCtx(), { subject: copy.subject, data }), 'ERR_SIGNATURE_INVALID');
        checked++;
      }
    }
    for (let i = 0; i < parts.signature.length; i++) {
      const sig = Uint8Array.from(parts.signature);
      sig[i]! ^= 1 << (i % 8);
      const data = codec.encodeEnvelope({ ...parts, signature: sig });
      expectCode(() => openMessage(openCtx(), { subject: copy.subject, data }), 'ERR_SIGNATURE_INVALID');
      checked++;
    }
    expect(checked).toBeGreaterThan(64);
  });

  it('a flipped bit anywhere in the wire bytes is never accepted, and always fails with a typed error', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const codes = new Map<string, number>();
    for (let i = 0; i < copy.data.length; i++) {
      const data = Uint8Array.from(copy.data);
      data[i]! ^= 1 << (i % 8);
      try {
        openMessage(openCtx(), { subject: copy.subject, data });
        throw new Error(`bit flip at byte ${i} was accepted`);
      } catch (err) {
        expect(isLiaisonError(err), String(err)).toBe(true);
        if (isLiaisonError(err)) codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      }
    }
    // Flips in the body and signature fail the signature; flips in framing, protected header or signed
    // header are caught earlier by the stage that owns them. None is accepted.
    expect(codes.get('ERR_SIGNATURE_INVALID') ?? 0).toBeGreaterThan(copy.data.length / 4);
    expect([...codes.keys()].every((c) => c.startsWith('ERR_'))).toBe(true);
  });

  it('the subject must agree with the signed header (a relabelled sender or tier is ERR_SUBJECT_MISMATCH)', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    expectCode(() => openMessage(openCtx(), { subject: copy.subject.replace('.xa-police.', '.xb-ngo.'), data: copy.data }), 'ERR_SUBJECT_MISMATCH');
    expectCode(() => openMessage(openCtx(), { subject: copy.subject.replace('.operational.', '.public.'), data: copy.data }), 'ERR_SUBJECT_MISMATCH');
    expectCode(() => openMessage(openCtx(), { subject: 'liaison.v1.svc.x', data: copy.data }), 'ERR_SUBJECT_MISMATCH');
  });

  it('NATS headers must agree with the signed header (ERR_HEADER_MISMATCH)', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const headers: Record<string, string> = { ...copy.headers, 'ce-id': uuidv7() };
    expectCode(() => openMessage(openCtx(), { subject: copy.subject, data: copy.data, header: (n) => headers[n] }), 'ERR_HEADER_MISMATCH');
    const msgId: Record<string, string> = { ...copy.headers, 'Nats-Msg-Id': 'other' };
    expectCode(() => openMessage(openCtx(), { subject: copy.subject, data: copy.data, header: (n) => msgId[n] }), 'ERR_HEADER_MISMATCH');
  });

  it('an unknown key is ERR_KEY_UNKNOWN', async () => {
    const stranger = await makeKey();
    const copy = sealMessage(sealCtx({ key: { privateKey: stranger.privateKey, kid: stranger.kid } }), 'DocumentReport', REPORT).copies[0]!;
    expectCode(() => open(copy), 'ERR_KEY_UNKNOWN');
  });

  it('a key registered for another agency does not verify this sender (ERR_KEY_UNKNOWN)', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    expectCode(() => open(copy, { keys: (agency, kid) => (agency === 'xb-ngo' ? keyRecords.get(`xa-police/${kid}`) : undefined) }), 'ERR_KEY_UNKNOWN');
  });

  it('revocation refuses messages signed at or after it and keeps earlier ones verifiable', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const rec = keyRecords.get(`xa-police/${police.kid}`)!;
    expectCode(() => open(copy, { keys: () => ({ ...rec, revokedAt: new Date(now - 1) }) }), 'ERR_REVOKED');
    expect(open(copy, { keys: () => ({ ...rec, revokedAt: new Date(now + 1) }) }).header.sender).toBe('xa-police');
  });

  it('a rotated-out key verifies only what it signed before the rotation (ERR_KEY_SUPERSEDED)', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const rec = keyRecords.get(`xa-police/${police.kid}`)!;
    expectCode(() => open(copy, { keys: () => ({ ...rec, supersededAt: new Date(now) }) }), 'ERR_KEY_SUPERSEDED');
    expect(open(copy, { keys: () => ({ ...rec, supersededAt: new Date(now + 1000) }) }).type).toBe('DocumentReport');
  });

  it('a credential expired before signing is ERR_CREDENTIAL_EXPIRED; an expired message is ERR_MESSAGE_EXPIRED', () => {
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    const rec = keyRecords.get(`xa-police/${police.kid}`)!;
    expectCode(() => open(copy, { keys: () => ({ ...rec, expiresAt: new Date(now - 1) }) }), 'ERR_CREDENTIAL_EXPIRED');
    const short = sealMessage(sealCtx(), 'DocumentReport', REPORT, { expiresAt: new Date(now + 10) }).copies[0]!;
    expectCode(() => open(short, { clock: { now: () => now + 11 } }), 'ERR_MESSAGE_EXPIRED');
  });

  it('a correctly signed message of an unknown type is ERR_TYPE_UNKNOWN', () => {
    const header = {
      id: uuidv7(now),
      type: 'liaison.v1.NoSuchThing',
      sender: 'xa-police',
      recipient: 'all',
      createdAt: new Date(now),
      caseRef: '',
      correlationId: '',
      causationId: '',
      handling: 'H0' as const,
      tlp: 'GREEN' as const,
      tier: 'operational' as const,
      policyHash: policy.hash,
    };
    const signed = codec.encodeSigned(header, new Uint8Array([1, 2, 3]));
    const jws = signDetached(signed, { privateKey: police.privateKey, kid: police.kid });
    const data = codec.encodeEnvelope({ signed, ...jws });
    expectCode(
      () => openMessage(openCtx(), { subject: 'liaison.v1.operational.documents.NoSuchThing.xa-police.all', data, header: (n) => natsHeadersFor(header)[n] }),
      'ERR_TYPE_UNKNOWN',
    );
  });

  it('garbage bytes are ERR_DECODE', () => {
    expectCode(() => openMessage(openCtx(), { subject: 'liaison.v1.operational.documents.DocumentReport.xa-police.all', data: new Uint8Array([0xff, 0xff, 0xff]) }), 'ERR_DECODE');
    expectCode(() => openMessage(openCtx(), { subject: 'liaison.v1.operational.documents.DocumentReport.xa-police.all', data: new Uint8Array() }), 'ERR_DECODE');
  });

  it('a copy larger than the exchange max payload is refused before sending (ERR_MESSAGE_TOO_LARGE)', () => {
    expectCode(() => sealMessage(sealCtx({ maxPayload: 64 }), 'DocumentReport', REPORT), 'ERR_MESSAGE_TOO_LARGE');
  });

  it('the sending SDK refuses a type the sender may not send, naming the policy', () => {
    expectCode(() => sealMessage(sealCtx({ sender: 'xb-ngo' }), 'DocumentReport', REPORT), 'ERR_POLICY_SEND_DENIED');
  });

  it('the receiver refuses a copy at a tier its policy does not give it (ERR_POLICY_RECEIVE_DENIED)', () => {
    const policeOnly = parsePolicy(POLICY.replace('tier: operational', 'tier: public'), { file: 'unit.yaml', catalog: typeCatalogOf(catalog) });
    const copy = sealMessage(sealCtx(), 'DocumentReport', REPORT).copies[0]!;
    expectCode(() => open(copy, { policy: policeOnly }), 'ERR_POLICY_RECEIVE_DENIED');
  });

  it('a correctly signed copy that carries fields above its tier is refused whole (ERR_TIER_VIOLATION)', () => {
    const info = catalog.get('CaseReferral');
    const header = {
      id: uuidv7(now),
      type: info.fullName,
      sender: 'xa-police',
      recipient: 'xb-ngo',
      createdAt: new Date(now),
      caseRef: '',
      correlationId: '',
      causationId: '',
      handling: 'H0' as const,
      tlp: 'GREEN' as const,
      tier: 'personal' as const,
      policyHash: policy.hash,
    };
    // An integration that skipped projection: the special-tier field travels in the personal copy.
    const body = encodeBody(info, { kind: 'REFERRAL_KIND_PROTECTION', summary: 'x', criminalIntelligence: 'informant named' });
    const signed = codec.encodeSigned(header, body);
    const jws = signDetached(signed, { privateKey: police.privateKey, kid: police.kid });
    const data = codec.encodeEnvelope({ signed, ...jws });
    const subject = 'liaison.v1.personal.referrals.CaseReferral.xa-police.xb-ngo';
    try {
      openMessage(openCtx(), { subject, data });
      throw new Error('accepted');
    } catch (err) {
      expect(isLiaisonError(err, 'ERR_TIER_VIOLATION'), String(err)).toBe(true);
      expect((err as Error).message).toContain('criminalIntelligence');
    }
    // The same referral, properly projected, is accepted.
    const ok = sealMessage(sealCtx(), 'CaseReferral', { kind: 'REFERRAL_KIND_PROTECTION', summary: 'x', criminalIntelligence: 'informant named' }, { to: 'xb-ngo' }).copies[0]!;
    expect(open(ok).body.criminalIntelligence).toBeUndefined();
  });

  it('an unknown body field is ERR_BODY_INVALID naming the field', () => {
    try {
      sealMessage(sealCtx(), 'DocumentReport', { ...REPORT, secretField: 1 });
      throw new Error('accepted');
    } catch (err) {
      expect(isLiaisonError(err, 'ERR_BODY_INVALID')).toBe(true);
      expect((err as Error).message).toContain('secretField');
    }
  });
});
