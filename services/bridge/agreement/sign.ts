import { createHash, verify as edVerify } from 'node:crypto';
import { CompactSign } from 'jose';
import { LiaisonError } from '../../sdk/errors.ts';
import { ACCEPTED_ALGS, JWS_ALG } from '../../sdk/envelope/jws.ts';
import type { SigningKey } from '../../sdk/trust/key-file.ts';
import { publicKeyFromJwk, type Ed25519PublicJwk } from '../../sdk/trust/keys.ts';
import { parseAgreement, type ParseAgreementOptions } from './load.ts';
import type { Agreement, FederationRef, SignedAgreementFile } from './model.ts';

/**
 * Signing and verifying a cross-federation agreement (design §3). Each root signs the agreement's text, byte
 * for byte, as a compact JWS (alg Ed25519, typ {@link AGREEMENT_TYP}, kid = the root's RFC 7638 thumbprint,
 * payload attached), as the root signs the directory (services/trust/directory-jws.ts). Both roots must have
 * signed; each side verifies its own root's signature and the peer's, so its root certifies the peer root the
 * agreement names (cross-certification).
 *
 * @module
 */

/** JOSE `typ` of an agreement signature. */
export const AGREEMENT_TYP = 'liaison-agreement+jwt';

const invalid = (message: string, details: Record<string, unknown> = {}, cause?: unknown): LiaisonError =>
  new LiaisonError('ERR_AGREEMENT_INVALID', message, details, cause === undefined ? undefined : { cause });

/** The party of the agreement whose root is `key`, if any. */
export function signerOf(agreement: Agreement, key: Ed25519PublicJwk): FederationRef | undefined {
  return agreement.federations.find((f) => f.root.x === key.x);
}

/**
 * Sign an agreement's text with a federation root key (a `services/trust` key-file SigningKey). The text must
 * parse and the key must be the root of one of its two federations (ERR_AGREEMENT_INVALID otherwise): a root
 * signs only an agreement that names it.
 */
export async function signAgreement(text: string, rootKey: SigningKey, opts: ParseAgreementOptions = {}): Promise<string> {
  const agreement = parseAgreement(text, undefined, opts);
  const party = signerOf(agreement, rootKey.publicJwk);
  if (!party) {
    const names = agreement.federations.map((f) => f.name).join(', ');
    throw invalid(`agreement ${agreement.id}: this root key (kid ${rootKey.kid}) is the root of neither ${names}`, { agreement: agreement.id });
  }
  return await new CompactSign(new TextEncoder().encode(text)).setProtectedHeader({ alg: JWS_ALG, kid: rootKey.kid, typ: AGREEMENT_TYP }).sign(rootKey.privateKey);
}

/** Options of {@link verifyAgreement}. */
export interface VerifyAgreementOptions extends ParseAgreementOptions {
  /** Name used in error locations of the text. */
  file?: string;
}

/**
 * Verify a signed agreement from `self`'s side at `now`: the text parses; `self.federation` is a party whose
 * root in the text is `self.root`; both parties' signatures are present (no other) and each is its root's
 * compact JWS over exactly this text; the agreement has not expired. Every failure: ERR_AGREEMENT_INVALID
 * (details.reason: `invalid`, `not-a-party`, `own-root`, `signature`, `expired`).
 */
export function verifyAgreement(
  doc: SignedAgreementFile,
  self: { federation: string; root: Ed25519PublicJwk },
  now: Date,
  opts: VerifyAgreementOptions = {},
): Agreement {
  if (typeof doc !== 'object' || doc === null || typeof doc.text !== 'string' || typeof doc.signatures !== 'object' || doc.signatures === null) {
    throw invalid('a signed agreement is { text, signatures: { <federation>: <JWS> } }', { reason: 'invalid' });
  }
  const agreement = parseAgreement(doc.text, opts.file, opts);
  const own = agreement.federations.find((f) => f.name === self.federation);
  if (!own) throw invalid(`agreement ${agreement.id} is between ${agreement.federations.map((f) => f.name).join(' and ')}, not ${self.federation}`, { agreement: agreement.id, reason: 'not-a-party' });
  if (own.root.x !== self.root.x) {
    throw invalid(`agreement ${agreement.id} names another root key for ${self.federation} than this federation's own`, { agreement: agreement.id, reason: 'own-root' });
  }
  const names = agreement.federations.map((f) => f.name);
  const extra = Object.keys(doc.signatures).filter((n) => !names.includes(n));
  if (extra.length) throw invalid(`agreement ${agreement.id} carries signatures of ${extra.join(', ')}, which are not parties`, { agreement: agreement.id, reason: 'signature' });
  for (const fed of agreement.federations) checkSignature(agreement, fed, doc.signatures[fed.name], doc.text);
  if (now.getTime() >= agreement.expiresAt.getTime()) {
    throw invalid(`agreement ${agreement.id} expired at ${agreement.expiresAt.toISOString()}`, { agreement: agreement.id, reason: 'expired', expiresAt: agreement.expiresAt.toISOString() });
  }
  return agreement;
}

/** One party's signature: present, the profile's header with that root's kid, valid over exactly `text`. */
function checkSignature(agreement: Agreement, fed: FederationRef, jws: unknown, text: string): void {
  const details = { agreement: agreement.id, federation: fed.name, reason: 'signature' };
  if (typeof jws !== 'string') throw invalid(`agreement ${agreement.id} lacks the signature of ${fed.name}'s root`, details);
  const parts = jws.split('.');
  if (parts.length !== 3) throw invalid(`the signature of ${fed.name} on agreement ${agreement.id} is not a compact JWS`, details);
  const [h, p, s] = parts as [string, string, string];
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw invalid(`the signature of ${fed.name} on agreement ${agreement.id} has no readable header`, details, err);
  }
  if (!ACCEPTED_ALGS.has(header.alg) || header.typ !== AGREEMENT_TYP || header.kid !== rootThumbprint(fed.root) || header.crit !== undefined) {
    throw invalid(`the signature of ${fed.name} on agreement ${agreement.id} is not alg Ed25519 / typ ${AGREEMENT_TYP} / kid of ${fed.name}'s root`, details);
  }
  if (Buffer.from(p, 'base64url').toString('utf8') !== text || Buffer.from(text, 'utf8').toString('base64url') !== p) {
    throw invalid(`the signature of ${fed.name} on agreement ${agreement.id} is over another text`, details);
  }
  const ok = edVerify(null, Buffer.from(`${h}.${p}`, 'ascii'), publicKeyFromJwk(fed.root), Buffer.from(s, 'base64url'));
  if (!ok) throw invalid(`the signature of ${fed.name} on agreement ${agreement.id} does not verify against ${fed.name}'s root key`, details);
}

const thumbprints = new Map<string, string>();

/** RFC 7638 thumbprint (kid) of an Ed25519 root key, synchronously: SHA-256 of `{"crv","kty","x"}`, base64url. */
export function rootThumbprint(jwk: Ed25519PublicJwk): string {
  let t = thumbprints.get(jwk.x);
  if (t === undefined) {
    t = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x: jwk.x }), 'utf8').digest('base64url');
    thumbprints.set(jwk.x, t);
  }
  return t;
}
