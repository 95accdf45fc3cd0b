import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { federationView } from '../services/sdk/client/directory.ts';
import { typeCatalogOf } from '../services/sdk/client/type-catalog.ts';
import { createEnvelopeCodec, type EnvelopeCodec } from '../services/sdk/envelope/codec.ts';
import type { SigningKey } from '../services/sdk/envelope/jws.ts';
import { openMessage, type KeyResolver } from '../services/sdk/envelope/open.ts';
import { sealMessage } from '../services/sdk/envelope/seal.ts';
import { isLiaisonError, type ErrorCode } from '../services/sdk/errors.ts';
import { parsePolicy, type Policy } from '../services/sdk/policy/index.ts';
import { loadCatalog, type Catalog } from '../services/sdk/schema/index.ts';
import { codeOf, codeOfAsync } from './support/outcome.ts';
import {
  DIRECTORY_TYP,
  enrolAgency,
  initFederation,
  loadSigningKey,
  policyHash,
  requireAgencyRecord,
  revokeAgency,
  verifyDirectory,
  type Directory,
  type Federation,
} from '../services/trust/index.ts';

/**
 * The federation directory's own checks at their boundary (issue 12, finding 7): a credential bound to
 * the agency entry that lists it, a policy hash bound to the policy text, and a first revocation time
 * that a second revocation cannot move. The directories below are signed with the real root key, so
 * only these checks stand between them and a receiver.
 */

const POLICY = `
version: 1
name: directory-boundaries
roles:
  police:
    send: [DocumentReport]
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: any
  ngo:
    send: [DocumentReport]
    receive:
      - types: [DocumentReport]
        tier: operational
        scope: any
agencies:
  xa-police: { name: Xandria Police, country: XAA, roles: [police] }
  xb-ngo: { name: Bellmark Harbour NGO, country: XBB, roles: [ngo] }
`;

const REPORT = { documentNumber: 'XA1234567', issuingCountry: 'XAA', documentType: 'DOCUMENT_TYPE_PASSPORT', status: 'DOCUMENT_STATUS_STOLEN' };
const ENROLLED = new Date('2026-11-01T00:00:00.000Z');

let work: string;
let catalog: Catalog;
let codec: EnvelopeCodec;
let policy: Policy;

beforeAll(() => {
  catalog = loadCatalog();
  codec = createEnvelopeCodec(catalog.envelopeTypes);
  policy = parsePolicy(POLICY, { file: 'directory-boundaries.yaml', catalog: typeCatalogOf(catalog) });
});
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'liaison-dir-boundaries-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A federation with xa-police and xb-ngo enrolled; returns it, the last directory and both signing keys. */
async function federation(name: string): Promise<{ fed: Federation; directory: string; keys: Record<string, SigningKey>; out: Record<string, string> }> {
  const fed = await initFederation({ dir: join(work, name), policyText: POLICY, federationName: name });
  const keys: Record<string, SigningKey> = {};
  const out: Record<string, string> = {};
  let directory = '';
  for (const [id, country, role] of [
    ['xa-police', 'XAA', 'police'],
    ['xb-ngo', 'XBB', 'ngo'],
  ] as const) {
    out[id] = join(work, `${name}-${id}`);
    const permissions = { pub: { allow: [`liaison.v1.operational.documents.DocumentReport.${id}.>`] }, sub: { allow: [`_INBOX_${id}.>`] } };
    ({ directory } = await enrolAgency({ dir: fed.dir, agencyId: id, name: id, country, roles: [role], permissions, out: out[id], ttlSeconds: 90 * 86_400, now: ENROLLED }));
    keys[id] = await loadSigningKey(join(out[id], 'signing-key.jwk'));
  }
  return { fed, directory, keys, out };
}

const payloadOf = (jws: string): Directory => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Directory;

/** Sign `d` as the federation root does (the attacker here is a directory builder, not someone without the root key). */
async function signAsRoot(fed: Federation, d: Directory): Promise<string> {
  return await new CompactSign(new TextEncoder().encode(JSON.stringify(d))).setProtectedHeader({ alg: 'EdDSA', kid: fed.root.kid, typ: DIRECTORY_TYP }).sign(fed.root.privateKey);
}

/** A DocumentReport from `sender`, signed with `key` at `at`, opened by the other agency with `keys`. */
function deliver(sender: string, key: SigningKey, at: number, keys: KeyResolver): ErrorCode | 'accepted' {
  const copy = sealMessage({ catalog, codec, policy, sender, key, clock: { now: () => at } }, 'DocumentReport', REPORT).copies[0]!;
  return codeOf(() => openMessage({ catalog, codec, policy, keys, self: sender === 'xb-ngo' ? 'xa-police' : 'xb-ngo', clock: { now: () => at } }, { subject: copy.subject, data: copy.data }));
}

describe("a credential listed under another agency's id", () => {
  let f: Awaited<ReturnType<typeof federation>>;
  let forged: Directory;
  beforeAll(async () => {
    f = await federation('misbound');
    forged = payloadOf(f.directory);
    const police = forged.agencies.find((a) => a.id === 'xa-police')!;
    const ngo = forged.agencies.find((a) => a.id === 'xb-ngo')!;
    // xb-ngo's entry lists xa-police's credential (its sub is xa-police): whoever holds the police key could sign as the NGO.
    ngo.credentials = [...ngo.credentials, ...police.credentials];
  });

  it('positive control: the directory as built, re-signed the same way, verifies', async () => {
    expect(await codeOfAsync(verifyDirectory(await signAsRoot(f.fed, payloadOf(f.directory)), f.fed.root.publicJwk))).toBe('accepted');
  });

  it('the directory is a JWT with iss (the federation root), iat (= issuedAt) and exp; past exp, or under another iss, it is refused', async () => {
    const d = payloadOf(f.directory);
    expect(d.iss).toBe(`liaison-root:${d.federation}`);
    expect(d.iat).toBe(Math.floor(Date.parse(d.issuedAt) / 1000));
    expect(d.exp! - d.iat!).toBe(365 * 86_400);
    const at = (s: number) => new Date(s * 1000);
    expect(await codeOfAsync(verifyDirectory(f.directory, f.fed.root.publicJwk, at(d.exp! - 1)))).toBe('accepted');
    expect(await codeOfAsync(verifyDirectory(f.directory, f.fed.root.publicJwk, at(d.exp!)))).toBe('ERR_DIRECTORY_INVALID');
    expect(await codeOfAsync(verifyDirectory(await signAsRoot(f.fed, { ...d, iss: 'liaison-root:another-federation' }), f.fed.root.publicJwk))).toBe('ERR_DIRECTORY_INVALID');
    expect(await codeOfAsync(verifyDirectory(await signAsRoot(f.fed, { ...d, iat: d.iat! + 1 }), f.fed.root.publicJwk))).toBe('ERR_DIRECTORY_INVALID');
  });

  it('the root signs directories and credentials with alg Ed25519 (RFC 9864); EdDSA from an older root still verifies, any other alg does not', async () => {
    const header = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8')) as { alg: string };
    expect(header(f.directory).alg).toBe('Ed25519');
    const d = await verifyDirectory(f.directory, f.fed.root.publicJwk);
    expect(d.agencies.flatMap((a) => a.credentials.map((c) => header(c.jwt).alg))).toEqual(expect.arrayContaining(['Ed25519']));
    expect(d.agencies.flatMap((a) => a.credentials.map((c) => header(c.jwt).alg)).every((alg) => alg === 'Ed25519')).toBe(true);
    const payload = new TextEncoder().encode(JSON.stringify(payloadOf(f.directory)));
    const signedWith = (alg: string) => new CompactSign(payload).setProtectedHeader({ alg, kid: f.fed.root.kid, typ: DIRECTORY_TYP }).sign(f.fed.root.privateKey);
    expect(await codeOfAsync(verifyDirectory(await signedWith('EdDSA'), f.fed.root.publicJwk))).toBe('accepted');
    // Same Ed25519 signature bytes, the header's alg rewritten: refused for any alg outside the two.
    const [, body, sig] = (await signedWith('Ed25519')).split('.');
    for (const alg of ['none', 'HS256', 'ed25519']) {
      const forged = `${Buffer.from(JSON.stringify({ alg, kid: f.fed.root.kid, typ: DIRECTORY_TYP })).toString('base64url')}.${body}.${sig}`;
      expect(await codeOfAsync(verifyDirectory(forged, f.fed.root.publicJwk)), alg).toBe('ERR_DIRECTORY_INVALID');
    }
  });

  it('is refused by verifyDirectory (credential sub ≠ entry id), even though the root signed it', async () => {
    const err = await verifyDirectory(await signAsRoot(f.fed, forged), f.fed.root.publicJwk).catch((e: unknown) => e);
    expect(isLiaisonError(err, 'ERR_DIRECTORY_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toContain('credential of xb-ngo names xa-police');
  });

  it("a credential under its own id but another key's kid is refused too", async () => {
    const d = payloadOf(f.directory);
    const police = d.agencies.find((a) => a.id === 'xa-police')!;
    police.credentials = police.credentials.map((c) => ({ ...c, kid: f.keys['xb-ngo']!.kid }));
    expect(await codeOfAsync(verifyDirectory(await signAsRoot(f.fed, d), f.fed.root.publicJwk))).toBe('ERR_DIRECTORY_INVALID');
  });

  it("the SDK's key resolver over a directory it did not verify does not lend xa-police's key to xb-ngo", () => {
    const keys = federationView(structuredClone(forged), typeCatalogOf(catalog)).keys;
    const at = ENROLLED.getTime() + 86_400_000;
    expect(deliver('xa-police', f.keys['xa-police']!, at, keys)).toBe('accepted');
    expect(keys('xb-ngo', f.keys['xa-police']!.kid)).toBeUndefined();
    expect(deliver('xb-ngo', f.keys['xa-police']!, at, keys)).toBe('ERR_KEY_UNKNOWN');
  });
});

describe('a directory whose policyHash does not match its policy text', () => {
  it('is refused, whichever of the two was changed; the matching pair verifies', async () => {
    const f = await federation('policyhash');
    const widened = POLICY.replace('scope: any', 'scope: any\n      - types: [PersonAlert]\n        tier: special\n        scope: any');
    const ok = payloadOf(f.directory);
    expect(await codeOfAsync(verifyDirectory(await signAsRoot(f.fed, { ...ok, policy: widened, policyHash: policyHash(widened) }), f.fed.root.publicJwk))).toBe('accepted');
    const textChanged = { ...ok, policy: widened };
    const hashChanged = { ...ok, policyHash: policyHash(widened) };
    for (const d of [textChanged, hashChanged, { ...ok, policyHash: undefined as unknown as string }]) {
      const err = await verifyDirectory(await signAsRoot(f.fed, d), f.fed.root.publicJwk).catch((e: unknown) => e);
      expect(isLiaisonError(err, 'ERR_DIRECTORY_INVALID'), String(err)).toBe(true);
      expect((err as Error).message).toContain('policyHash');
    }
  });
});

describe('revoking twice', () => {
  it('keeps the first revokedAt in the record, its NATS users and the directory, so receivers keep refusing from the first time', async () => {
    const f = await federation('revoke-twice');
    const first = ENROLLED.getTime() + 10 * 86_400_000 + 17;
    const r1 = await revokeAgency({ dir: f.fed.dir, agencyId: 'xa-police', at: new Date(first) });
    expect(r1.record.revokedAt).toBe(new Date(first).toISOString());
    for (const again of [first + 86_400_000, first - 86_400_000]) {
      const r = await revokeAgency({ dir: f.fed.dir, agencyId: 'xa-police', at: new Date(again) });
      const record = await requireAgencyRecord(f.fed.dir, 'xa-police');
      expect(record.revokedAt).toBe(new Date(first).toISOString());
      expect(record.nats.users.map((u) => u.revokedAt)).toEqual(record.nats.users.map(() => new Date(first).toISOString()));
      const d = await verifyDirectory(r.directory, f.fed.root.publicJwk);
      expect(d.agencies.find((a) => a.id === 'xa-police')?.revokedAt).toBe(new Date(first).toISOString());
      const keys = federationView(d, typeCatalogOf(catalog)).keys;
      expect(deliver('xa-police', f.keys['xa-police']!, first - 1, keys)).toBe('accepted');
      expect(deliver('xa-police', f.keys['xa-police']!, first, keys)).toBe('ERR_REVOKED');
    }
  });
});
