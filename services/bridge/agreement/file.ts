import { readFile } from 'node:fs/promises';
import { LiaisonError } from '../../sdk/errors.ts';
import { writePublicFile } from '../../sdk/trust/key-file.ts';
import type { SignedAgreementFile } from './model.ts';

/**
 * The signed agreement file, `agreement.signed.json` = `{ text, signatures: { <federation>: <compact JWS> } }`
 * (design §3): read, write, and add one federation's signature.
 *
 * @module
 */

/** The shape of a signed agreement, or ERR_AGREEMENT_INVALID naming `what`. */
export function asSignedAgreement(value: unknown, what = 'signed agreement'): SignedAgreementFile {
  const v = value as Partial<SignedAgreementFile> | null;
  const sigs = v?.signatures;
  if (typeof v !== 'object' || v === null || typeof v.text !== 'string' || typeof sigs !== 'object' || sigs === null || Array.isArray(sigs) || Object.values(sigs).some((s) => typeof s !== 'string')) {
    throw new LiaisonError('ERR_AGREEMENT_INVALID', `${what} is not { "text": "…", "signatures": { "<federation>": "<JWS>" } }`);
  }
  return { text: v.text, signatures: { ...(sigs as Record<string, string>) } };
}

/** Read a signed agreement file (missing, not JSON or the wrong shape → ERR_AGREEMENT_INVALID). */
export async function readSignedAgreement(path: string): Promise<SignedAgreementFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_AGREEMENT_INVALID', `${path}: cannot read the signed agreement (${(err as Error).message})`, { file: path }, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LiaisonError('ERR_AGREEMENT_INVALID', `${path} is not JSON (a signed agreement is { text, signatures })`, { file: path }, { cause: err });
  }
  return asSignedAgreement(value, path);
}

/** Write a signed agreement file (public: it holds no secret). */
export async function writeSignedAgreement(path: string, doc: SignedAgreementFile): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(doc.signatures).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writePublicFile(path, `${JSON.stringify({ text: doc.text, signatures: sorted }, null, 2)}\n`);
}

/**
 * `doc` with `federation`'s signature set to `jws`. A signature over another text is refused
 * (ERR_AGREEMENT_INVALID): the signed file holds one text, and the other root signed that one.
 */
export function withSignature(doc: SignedAgreementFile | undefined, text: string, federation: string, jws: string): SignedAgreementFile {
  if (doc && doc.text !== text) {
    const others = Object.keys(doc.signatures).filter((n) => n !== federation);
    if (others.length) throw new LiaisonError('ERR_AGREEMENT_INVALID', `the signed file holds another text, already signed by ${others.join(', ')}: both roots must sign the same text`);
    return { text, signatures: { [federation]: jws } };
  }
  return { text, signatures: { ...(doc?.signatures ?? {}), [federation]: jws } };
}

/** An agreement file as the tools take it: the YAML itself, or a signed agreement (its text, with the signatures). */
export interface AgreementInput {
  text: string;
  /** Set when the file is a signed agreement. */
  signed?: SignedAgreementFile;
}

/** Read `path` as a signed agreement when it is JSON of that shape, else as the agreement's YAML (unreadable → ERR_AGREEMENT_INVALID). */
export async function readAgreementInput(path: string): Promise<AgreementInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_AGREEMENT_INVALID', `${path}: cannot read the agreement (${(err as Error).message})`, { file: path }, { cause: err });
  }
  if (!text.trimStart().startsWith('{')) return { text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { text };
  }
  const signed = asSignedAgreement(value, path);
  return { text: signed.text, signed };
}
