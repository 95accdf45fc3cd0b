import { CompactSign } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAgreement } from '../services/bridge/agreement/load.ts';
import { localise, parseQualified, qualified, type SignedAgreementFile } from '../services/bridge/agreement/model.ts';
import { AGREEMENT_TYP, rootThumbprint, signAgreement, verifyAgreement } from '../services/bridge/agreement/sign.ts';
import { withSignature } from '../services/bridge/agreement/file.ts';
import { LiaisonError } from '../services/sdk/errors.ts';
import { generateEd25519, jwkThumbprint, type GeneratedKey } from '../services/sdk/trust/keys.ts';

/**
 * Cross-federation agreements (issue 17, design §1–3): the YAML is validated with located errors, and a signed
 * agreement is accepted only with both roots' signatures over exactly its text, this side's own root named in
 * it, and before it expires.
 */

let med: GeneratedKey;
let atl: GeneratedKey;
let third: GeneratedKey;
beforeAll(async () => {
  [med, atl, third] = await Promise.all([generateEd25519(), generateEd25519(), generateEd25519()]);
});

const jwk = (k: GeneratedKey) => `{ kty: OKP, crv: Ed25519, x: ${k.publicJwk.x} }`;
const FLOWS = [
  '  - from: atl:xb-police',
  '    to: med:xa-border-police',
  '    types: [IntelligenceReport, PersonAlert]',
  '    tier: personal',
  '  - from: med:xa-coast-guard',
  '    to: atl:xb-police',
  '    types: [IntelligenceReport]',
  '    tier: operational',
];

/** An agreement text between med and atl (flows from line 9); `omit` leaves out one top-level key with its block. */
function text(o: { flows?: string[]; expires?: string; omit?: 'id' | 'federations' | 'expires' | 'flows' } = {}): string {
  const parts: Record<string, string[]> = {
    head: ['version: 1'],
    id: ['id: med-atl'],
    description: ['description: Mediterranean and Atlantic pilots'],
    federations: ['federations:', `  - { name: med, root: ${jwk(med)} }`, `  - { name: atl, root: ${jwk(atl)} }`],
    expires: [`expires: ${o.expires ?? '2030-01-01T00:00:00Z'}`],
    flows: ['flows:', ...(o.flows ?? FLOWS)],
  };
  if (o.omit) delete parts[o.omit];
  return `${Object.values(parts).flat().join('\n')}\n`;
}

/** The 1-based line of the first occurrence of `needle`. */
function lineOf(t: string, needle: string): number {
  const i = t.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in text`);
  return t.slice(0, i).split('\n').length;
}

function invalid(t: string): LiaisonError {
  try {
    parseAgreement(t, 'med-atl.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(LiaisonError);
    expect((err as LiaisonError).code).toBe('ERR_AGREEMENT_INVALID');
    return err as LiaisonError;
  }
  throw new Error('the agreement was accepted');
}

describe('qualified ids', () => {
  it('qualify, parse and localise: <self>:x is ours, an unqualified id from the peer is <peer>:x', () => {
    expect(qualified('atl', 'xb-police')).toBe('atl:xb-police');
    expect(parseQualified('atl:xb-police')).toEqual({ federation: 'atl', agency: 'xb-police' });
    for (const bad of ['xb-police', 'atl:', ':xb-police', 'Atl:xb-police', 'atl:all', 'atl:xb:police', 'a:xb-police', 'atl:XB']) expect(parseQualified(bad), bad).toBeUndefined();
    expect(localise('med:xa-police', 'med', 'atl')).toBe('xa-police');
    expect(localise('xb-police', 'med', 'atl')).toBe('atl:xb-police');
    expect(localise('xa-police', 'med', 'med')).toBe('xa-police');
    expect(localise('pac:xc-police', 'med', 'atl')).toBe('pac:xc-police');
  });
});

describe('parseAgreement', () => {
  it('parses the two federations, the flows, the expiry and the hash of the text', () => {
    const t = text();
    const a = parseAgreement(t, 'med-atl.yaml');
    expect(a.id).toBe('med-atl');
    expect(a.federations.map((f) => f.name)).toEqual(['med', 'atl']);
    expect(a.federations[1].root.x).toBe(atl.publicJwk.x);
    expect(a.expiresAt.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(a.flows).toEqual([
      { from: 'atl:xb-police', to: 'med:xa-border-police', types: ['IntelligenceReport', 'PersonAlert'], tier: 'personal', index: 0 },
      { from: 'med:xa-coast-guard', to: 'atl:xb-police', types: ['IntelligenceReport'], tier: 'operational', index: 1 },
    ]);
    expect(a.text).toBe(t);
    expect(a.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(parseAgreement(`${t}# comment\n`).hash).not.toBe(a.hash);
  });

  it.each(['id', 'federations', 'expires', 'flows'] as const)('a missing top-level %s is a located error', (key) => {
    const e = invalid(text({ omit: key }));
    expect(e.details.key).toBe(key);
    expect(e.details.file).toBe('med-atl.yaml');
    expect(e.details.line).toBe(1);
    expect(e.message).toContain(`med-atl.yaml:1:1 ${key}: is required`);
  });

  it.each(['from', 'to', 'types', 'tier'])('a flow without %s is a located error naming flows[0].%s', (key) => {
    const flows = [...FLOWS];
    const at = flows.findIndex((l) => l.trimStart().replace('- ', '').startsWith(`${key}:`));
    flows.splice(at, 1);
    if (key === 'from') flows[0] = flows[0]!.replace('    to:', '  - to:');
    const e = invalid(text({ flows }));
    expect(e.details.key).toBe(`flows[0].${key}`);
    expect(e.details.line).toBe(9);
    expect(e.message).toContain('is required');
  });

  it('a federation without its root, or with a key that is not Ed25519, is a located error', () => {
    const noRoot = text().replace(`  - { name: atl, root: ${jwk(atl)} }`, '  - { name: atl }');
    expect(invalid(noRoot).details.key).toBe('federations[1].root');
    const rsa = text().replace(`root: ${jwk(atl)}`, 'root: { kty: RSA, n: abc, e: AQAB }');
    const e = invalid(rsa);
    expect(e.details.key).toBe('federations[1].root');
    expect(e.details.line).toBe(lineOf(rsa, 'kty: RSA'));
    expect(invalid(text().replace(`  - { name: atl, root: ${jwk(atl)} }\n`, '')).message).toContain('exactly two federations');
    expect(invalid(text().replace('name: atl', 'name: med')).message).toContain('duplicate federation "med"');
    expect(invalid(text().replace(jwk(atl), jwk(med))).message).toContain('same root key');
  });

  it('bad ids: an unqualified or malformed agency, a bad federation name, a bad agreement id', () => {
    const unq = text().replace('from: atl:xb-police', 'from: xb-police');
    let e = invalid(unq);
    expect(e.details.key).toBe('flows[0].from');
    expect(e.details.line).toBe(lineOf(unq, 'from: xb-police'));
    expect(e.message).toContain('invalid qualified agency id "xb-police"');
    e = invalid(text().replace('to: med:xa-border-police', 'to: med:Xa_Police'));
    expect(e.details.key).toBe('flows[0].to');
    e = invalid(text().replace('name: atl', 'name: Atlantic_1').replaceAll('atl:', 'Atlantic_1:'));
    expect(e.details.key).toBe('federations[1].name');
    e = invalid(text().replace('id: med-atl', 'id: Med/Atl'));
    expect(e.details.key).toBe('id');
    expect(e.details.line).toBe(2);
  });

  it('a flow naming a federation that is not a party is a located error', () => {
    const t = text().replace('from: med:xa-coast-guard', 'from: pac:xa-coast-guard');
    const e = invalid(t);
    expect(e.details.key).toBe('flows[1].from');
    expect(e.details.line).toBe(lineOf(t, 'from: pac:'));
    expect(e.message).toContain('not a party');
  });

  it('a flow within one federation is refused: its own policy governs that', () => {
    const t = text().replace('to: atl:xb-police', 'to: med:xa-prosecutor');
    const e = invalid(t);
    expect(e.details.key).toBe('flows[1]');
    expect(e.details.line).toBe(lineOf(t, '  - from: med:xa-coast-guard'));
    expect(e.message).toContain('both of med');
  });

  it('an unknown type, a bad tier and an unknown key are located errors', () => {
    const ty = text().replace('types: [IntelligenceReport]', 'types: [IntelligenceReprot]');
    let e = invalid(ty);
    expect(e.details.key).toBe('flows[1].types[0]');
    expect(e.details.line).toBe(lineOf(ty, 'types: [IntelligenceReprot]'));
    expect(e.message).toContain('did you mean "IntelligenceReport"');
    const ti = text().replace('tier: operational', 'tier: secret');
    e = invalid(ti);
    expect(e.details.key).toBe('flows[1].tier');
    expect(e.details.line).toBe(lineOf(ti, 'tier: secret'));
    e = invalid(text().replace('    tier: operational', '    tier: operational\n    scope: any'));
    expect(e.details.key).toBe('flows[1].scope');
    expect(invalid(text({ expires: 'next year' })).details.key).toBe('expires');
  });

  it('a duplicate flow (the same sender, recipient and type twice) is a located error', () => {
    const t = text({ flows: [...FLOWS, '  - from: atl:xb-police', '    to: med:xa-border-police', '    types: [PersonAlert]', '    tier: public'] });
    const e = invalid(t);
    expect(e.details.key).toBe('flows[2]');
    expect(e.details.line).toBe(t.split('\n').length - 4);
    expect(e.message).toContain('duplicate flow: atl:xb-police → med:xa-border-police PersonAlert is already at flows[0]');
  });
});

describe('signAgreement / verifyAgreement', () => {
  const NOW = new Date('2029-06-01T00:00:00Z');
  async function signedByBoth(t = text()): Promise<SignedAgreementFile> {
    let doc = withSignature(undefined, t, 'med', await signAgreement(t, med));
    doc = withSignature(doc, t, 'atl', await signAgreement(t, atl));
    return doc;
  }
  const medSide = () => ({ federation: 'med', root: med.publicJwk });
  const atlSide = () => ({ federation: 'atl', root: atl.publicJwk });
  function refused(doc: SignedAgreementFile, self = medSide(), now = NOW): LiaisonError {
    try {
      verifyAgreement(doc, self, now);
    } catch (err) {
      expect((err as LiaisonError).code).toBe('ERR_AGREEMENT_INVALID');
      return err as LiaisonError;
    }
    throw new Error('the signed agreement was accepted');
  }

  it('signed by both roots, it verifies on both sides; the signature is the root\'s JWS over the text', async () => {
    const doc = await signedByBoth();
    expect(verifyAgreement(doc, medSide(), NOW).id).toBe('med-atl');
    expect(verifyAgreement(doc, atlSide(), NOW).flows).toHaveLength(2);
    const [h, p] = doc.signatures.med!.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'Ed25519', kid: await jwkThumbprint(med.publicJwk), typ: AGREEMENT_TYP });
    expect(Buffer.from(p!, 'base64url').toString()).toBe(doc.text);
    expect(rootThumbprint(med.publicJwk)).toBe(med.kid);
  });

  it('a root that is not a party does not sign', async () => {
    await expect(signAgreement(text(), third)).rejects.toMatchObject({ code: 'ERR_AGREEMENT_INVALID' });
  });

  it('needs both signatures: only its own, or only the peer\'s, is refused', async () => {
    const doc = await signedByBoth();
    expect(refused({ text: doc.text, signatures: { med: doc.signatures.med! } }).message).toContain("lacks the signature of atl's root");
    expect(refused({ text: doc.text, signatures: { atl: doc.signatures.atl! } }).message).toContain("lacks the signature of med's root");
  });

  it('a changed text (one flow added) under the old signatures is refused', async () => {
    const doc = await signedByBoth();
    const more = text({ flows: [...FLOWS, '  - from: med:xa-prosecutor', '    to: atl:xb-prosecutor', '    types: [MutualLegalAssistanceRequest]', '    tier: personal'] });
    expect(parseAgreement(more).flows).toHaveLength(3);
    const e = refused({ text: more, signatures: doc.signatures });
    expect(e.details.reason).toBe('signature');
    expect(e.message).toContain('over another text');
  });

  it("a signature by a third root in the peer's place is refused, even under the peer's kid", async () => {
    const doc = await signedByBoth();
    const forged = await new CompactSign(new TextEncoder().encode(doc.text)).setProtectedHeader({ alg: 'Ed25519', kid: atl.kid, typ: AGREEMENT_TYP }).sign(third.privateKey);
    const e = refused({ text: doc.text, signatures: { ...doc.signatures, atl: forged } });
    expect(e.message).toContain("does not verify against atl's root key");
    const ownKid = await new CompactSign(new TextEncoder().encode(doc.text)).setProtectedHeader({ alg: 'Ed25519', kid: third.kid, typ: AGREEMENT_TYP }).sign(third.privateKey);
    expect(refused({ text: doc.text, signatures: { ...doc.signatures, atl: ownKid } }).details.reason).toBe('signature');
    expect(refused({ text: doc.text, signatures: { ...doc.signatures, pac: ownKid } }).message).toContain('pac, which are not parties');
  });

  it('refused when the agreement names another root for this side than its own', async () => {
    const doc = await signedByBoth();
    expect(refused(doc, { federation: 'med', root: third.publicJwk }).details.reason).toBe('own-root');
    expect(refused(doc, { federation: 'pac', root: third.publicJwk }).details.reason).toBe('not-a-party');
  });

  it('refused once expired (and accepted the moment before)', async () => {
    const doc = await signedByBoth(text({ expires: '2029-06-01T00:00:00Z' }));
    expect(verifyAgreement(doc, medSide(), new Date(NOW.getTime() - 1)).id).toBe('med-atl');
    const e = refused(doc, medSide(), NOW);
    expect(e.details.reason).toBe('expired');
    expect(e.message).toContain('expired at 2029-06-01T00:00:00.000Z');
  });
});
