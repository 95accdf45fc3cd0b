import { createHmac, sign as edSign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { federationView, type FederationView } from '../services/sdk/client/directory.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../services/sdk/envelope/codec.ts';
import { JWS_TYP, signingInput, type SigningKey } from '../services/sdk/envelope/jws.ts';
import { ceSource } from '../services/sdk/envelope/nats-headers.ts';
import { MAX_CLOCK_SKEW_MS, openMessage, type KeyResolver, type ReceivedMessage } from '../services/sdk/envelope/open.ts';
import { sealMessage, type SealedCopy } from '../services/sdk/envelope/seal.ts';
import { parsePolicy, type Policy } from '../services/sdk/policy/index.ts';
import { loadCatalog, type Catalog } from '../services/sdk/schema/index.ts';
import { enrolAgency, initFederation, loadSigningKey, revokeAgency, rotateSigningKey, verifyDirectory, type Federation } from '../services/trust/index.ts';
import { codeOf } from './support/outcome.ts';

/**
 * The receive pipeline's time and header checks at their exact boundaries, with real keys, a real
 * root-signed directory and the SDK's own key resolver (issue 12, finding 7): each test fails when its
 * check is weakened by one (`>=` → `>`, `>` → `>=`) or removed.
 */

const POLICY = `
version: 1
name: envelope-boundaries
roles:
  police:
    send: [DocumentReport]
  ngo:
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: any
agencies:
  xa-police: { name: Xandria Police, country: XAA, roles: [police] }
  xb-ngo: { name: Bellmark Harbour NGO, country: XBB, roles: [ngo] }
`;

const REPORT = { documentNumber: 'XA1234567', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' };

/** Enrolment time (whole seconds, as credential `iat`/`exp` are) and credential lifetime. */
const ENROLLED = new Date('2026-11-01T00:00:00.000Z');
const TTL_S = 30 * 86_400;
const EXP_MS = ENROLLED.getTime() + TTL_S * 1000;

let work: string;
let catalog: Catalog;
let codec: EnvelopeCodec;
let policy: Policy;
let fed: Federation;
let policeDir: string;
let policeKey: SigningKey;
let enrolledView: FederationView;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'liaison-boundaries-'));
  catalog = loadCatalog();
  codec = createEnvelopeCodec(catalog.envelopeTypes);
  policy = parsePolicy(POLICY, { file: 'boundaries.yaml', catalog: typeCatalogOf(catalog) });
  fed = await initFederation({ dir: join(work, 'trust'), policyText: POLICY, federationName: 'boundaries' });
  policeDir = join(work, 'xa-police');
  const permissions = { pub: { allow: ['liaison.v1.operational.documents.DocumentReport.xa-police.>'] }, sub: { allow: ['_INBOX_xa-police.>'] } };
  const enrolled = await enrolAgency({ dir: fed.dir, agencyId: 'xa-police', name: 'Xandria Police', country: 'XAA', roles: ['police'], permissions, out: policeDir, ttlSeconds: TTL_S, now: ENROLLED });
  policeKey = await loadSigningKey(join(policeDir, 'signing-key.jwk'));
  enrolledView = await viewOf(enrolled.directory);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function viewOf(directoryJws: string): Promise<FederationView> {
  return federationView(await verifyDirectory(directoryJws, fed.root.publicJwk), typeCatalogOf(catalog));
}

/** A DocumentReport signed by xa-police at `createdAt` (its clock), with `key`. */
function signedAt(createdAt: number, key: SigningKey = policeKey): SealedCopy {
  return sealMessage({ catalog, codec, policy, sender: 'xa-police', key, clock: { now: () => createdAt } }, 'DocumentReport', REPORT).copies[0]!;
}

/** Open `copy` as xb-ngo, with the receiver's clock at `now` and keys from `keys`. */
function openAs(copy: SealedCopy, keys: KeyResolver, now: number, headers: Record<string, string> = copy.headers): ReceivedMessage {
  return openMessage({ catalog, codec, policy, keys, self: 'xb-ngo', clock: { now: () => now } }, { subject: copy.subject, data: copy.data, header: (n) => headers[n] });
}

/** Open a copy signed at `t`, received at `t` (no skew), resolving keys with `view`. */
const verdictAt = (t: number, view: FederationView, key?: SigningKey) => codeOf(() => openAs(signedAt(t, key), view.keys, t));

describe('revocation, rotation and credential expiry at exactly the signing time', () => {
  it('the credential expiry (exp of the root-signed credential, via the SDK resolver) refuses a message signed at exp, not 1 ms before', () => {
    expect(enrolledView.keys('xa-police', policeKey.kid)?.expiresAt.getTime()).toBe(EXP_MS);
    expect(verdictAt(EXP_MS - 1, enrolledView)).toBe('accepted');
    expect(verdictAt(EXP_MS, enrolledView)).toBe('ERR_CREDENTIAL_EXPIRED');
    expect(verdictAt(EXP_MS + 1, enrolledView)).toBe('ERR_CREDENTIAL_EXPIRED');
  });

  it('a key rotated out at T verifies messages signed at T − 1 ms and refuses those signed at T', async () => {
    const dir = join(work, 'rotation');
    const local = await initFederation({ dir, policyText: POLICY, federationName: 'rotation' });
    const out = join(work, 'rotation-xa');
    const permissions = { pub: { allow: ['liaison.v1.>'] }, sub: { allow: ['_INBOX_xa-police.>'] } };
    await enrolAgency({ dir, agencyId: 'xa-police', name: 'Xandria Police', country: 'XAA', roles: ['police'], permissions, out, ttlSeconds: TTL_S, now: ENROLLED });
    const oldKey = await loadSigningKey(join(out, 'signing-key.jwk'));
    const rotatedAt = ENROLLED.getTime() + 86_400_000 + 123;
    const r = await rotateSigningKey({ dir, agencyId: 'xa-police', out, now: new Date(rotatedAt), ttlSeconds: TTL_S });
    const view = federationView(await verifyDirectory(r.directory, local.root.publicJwk), typeCatalogOf(catalog));
    expect(verdictAt(rotatedAt - 1, view, oldKey)).toBe('accepted');
    expect(verdictAt(rotatedAt, view, oldKey)).toBe('ERR_KEY_SUPERSEDED');
  });

  it('revocation at R (revokeAgency → directory → SDK resolver) refuses a message signed at R, and keeps R − 1 ms verifiable', async () => {
    const revokedAt = ENROLLED.getTime() + 2 * 86_400_000 + 457;
    const r = await revokeAgency({ dir: fed.dir, agencyId: 'xa-police', at: new Date(revokedAt) });
    const view = await viewOf(r.directory);
    expect(view.keys('xa-police', policeKey.kid)?.revokedAt?.getTime()).toBe(revokedAt);
    expect(verdictAt(revokedAt - 1, view)).toBe('accepted');
    expect(verdictAt(revokedAt, view)).toBe('ERR_REVOKED');
    expect(verdictAt(revokedAt + 1, view)).toBe('ERR_REVOKED');
  });
});

describe('created_at in the receiver future (clock skew)', () => {
  const now = ENROLLED.getTime() + 86_400_000;

  it(`accepts created_at exactly MAX_CLOCK_SKEW_MS (${MAX_CLOCK_SKEW_MS} ms) ahead of the receiver, refuses 1 ms more with ERR_CLOCK_SKEW`, () => {
    expect(MAX_CLOCK_SKEW_MS).toBe(5 * 60_000);
    expect(codeOf(() => openAs(signedAt(now + MAX_CLOCK_SKEW_MS), enrolledView.keys, now))).toBe('accepted');
    expect(codeOf(() => openAs(signedAt(now + MAX_CLOCK_SKEW_MS + 1), enrolledView.keys, now))).toBe('ERR_CLOCK_SKEW');
  });

  it('a sender clock ahead cannot sign past its credential expiry: a message "signed" 1 h ahead, just before exp, is refused while exp is still an hour off', () => {
    const receiverNow = EXP_MS - 3_600_000;
    expect(codeOf(() => openAs(signedAt(EXP_MS - 1), enrolledView.keys, receiverNow))).toBe('ERR_CLOCK_SKEW');
    expect(codeOf(() => openAs(signedAt(receiverNow), enrolledView.keys, receiverNow))).toBe('accepted');
  });
});

describe('JWS alg: Ed25519 (RFC 9864) is signed, Ed25519 and EdDSA (older senders) pass, nothing else', () => {
  const now = ENROLLED.getTime() + 86_400_000;

  /** Re-sign a copy under another protected header, with a real Ed25519 signature over the RFC 7797 input (or `signature`). */
  function withProtected(header: Record<string, unknown>, signature?: (input: Buffer) => Uint8Array): SealedCopy {
    const copy = signedAt(now);
    const parts = codec.decodeEnvelope(copy.data);
    const bytes = Buffer.from(JSON.stringify(header), 'utf8');
    const input = signingInput(Buffer.from(bytes.toString('base64url'), 'ascii'), parts.signed);
    const sig = signature ? signature(input) : edSign(null, input, policeKey.privateKey);
    return { ...copy, data: codec.encodeEnvelope({ ...parts, protected: bytes, signature: sig }) };
  }
  const profile = (over: Record<string, unknown>) => ({ alg: 'EdDSA', b64: false, crit: ['b64'], kid: policeKey.kid, typ: JWS_TYP, ...over });
  const verdict = (copy: SealedCopy) => codeOf(() => openAs(copy, enrolledView.keys, now));

  it('positive control: a header rebuilt the same way with alg EdDSA verifies', () => {
    expect(verdict(withProtected(profile({})))).toBe('accepted');
  });

  it('what a sender signs today carries alg Ed25519, and a header rebuilt with Ed25519 verifies', () => {
    const sent = JSON.parse(Buffer.from(codec.decodeEnvelope(signedAt(now).data).protected).toString('utf8')) as { alg: string };
    expect(sent.alg).toBe('Ed25519');
    expect(verdict(withProtected(profile({ alg: 'Ed25519' })))).toBe('accepted');
  });

  it('alg "none" is refused even with a valid Ed25519 signature, and with an empty one', () => {
    expect(verdict(withProtected(profile({ alg: 'none' })))).toBe('ERR_PROTECTED_HEADER_INVALID');
    // An empty signature may already fail the envelope framing; either way it is refused, never accepted.
    expect(['ERR_PROTECTED_HEADER_INVALID', 'ERR_DECODE']).toContain(verdict(withProtected(profile({ alg: 'none' }), () => new Uint8Array(0))));
  });

  it('alg HS256 is refused, with a valid Ed25519 signature and with an HMAC keyed by the public key (algorithm confusion)', () => {
    expect(verdict(withProtected(profile({ alg: 'HS256' })))).toBe('ERR_PROTECTED_HEADER_INVALID');
    const secret = enrolledView.keys('xa-police', policeKey.kid)!.publicKey.export({ format: 'der', type: 'spki' });
    expect(verdict(withProtected(profile({ alg: 'HS256' }), (input) => createHmac('sha256', secret).update(input).digest()))).toBe('ERR_PROTECTED_HEADER_INVALID');
  });

  it('a missing alg, a null alg, another case or another asymmetric alg is refused', () => {
    const { alg: _alg, ...noAlg } = profile({});
    const headers: Record<string, unknown>[] = [noAlg, profile({ alg: null }), profile({ alg: 'eddsa' }), profile({ alg: 'ed25519' }), profile({ alg: 'Ed448' }), profile({ alg: 'ES256' }), profile({ alg: ['EdDSA'] })];
    for (const h of headers) {
      expect(verdict(withProtected(h)), JSON.stringify(h.alg ?? '(missing)')).toBe('ERR_PROTECTED_HEADER_INVALID');
    }
  });
});

describe('CloudEvents and JetStream NATS headers must agree with the signed header', () => {
  const now = ENROLLED.getTime() + 86_400_000;
  const verdict = (over: Record<string, string>) => {
    const copy = signedAt(now);
    return codeOf(() => openAs(copy, enrolledView.keys, now, { ...copy.headers, ...over }));
  };

  it('positive control: the headers the sender set, or none, are accepted', () => {
    expect(verdict({})).toBe('accepted');
    const copy = signedAt(now);
    expect(codeOf(() => openAs(copy, enrolledView.keys, now, {}))).toBe('accepted');
  });

  it('ce-source naming another agency than the signed sender is refused (ERR_HEADER_MISMATCH)', () => {
    expect(verdict({ 'ce-source': ceSource('xb-ngo') })).toBe('ERR_HEADER_MISMATCH');
    expect(verdict({ 'ce-source': 'xa-police' })).toBe('ERR_HEADER_MISMATCH');
  });

  it('ce-type, ce-id and Nats-Msg-Id disagreeing with the signed header are each refused', () => {
    expect(verdict({ 'ce-type': 'CaseReferral' })).toBe('ERR_HEADER_MISMATCH');
    expect(verdict({ 'ce-id': '0190a5c8-0000-7000-8000-000000000000' })).toBe('ERR_HEADER_MISMATCH');
    expect(verdict({ 'Nats-Msg-Id': 'other:operational' })).toBe('ERR_HEADER_MISMATCH');
  });
});
