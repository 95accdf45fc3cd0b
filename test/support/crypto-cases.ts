/**
 * Random Ed25519 verification cases for the crypto pool tests: genuine signatures, tampered inputs, tampered
 * signatures and another agency's key, with what node:crypto answers for each.
 */
import { generateKeyPairSync, randomBytes, randomInt, sign, verify, type KeyObject } from 'node:crypto';

/** Four Ed25519 key pairs, made once per test file. */
export const keys = Array.from({ length: 4 }, () => generateKeyPairSync('ed25519'));

/** One verification: the input, the signature and the public key to check it with. */
export interface VerifyCase {
  input: Buffer;
  sig: Buffer;
  pub: KeyObject;
}

/** `n` random cases (about a quarter of each kind). */
export function randomCases(n: number): VerifyCase[] {
  return Array.from({ length: n }, () => {
    const k = keys[randomInt(keys.length)]!;
    const input = randomBytes(randomInt(0, 2000));
    const sig = sign(null, input, k.privateKey);
    const r = randomInt(4);
    if (r === 1 && input.length > 0) input[randomInt(input.length)]! ^= 1 << randomInt(8);
    if (r === 2) sig[randomInt(64)]! ^= 1 << randomInt(8);
    return { input, sig, pub: r === 3 ? keys[(keys.indexOf(k) + 1) % keys.length]!.publicKey : k.publicKey };
  });
}

/** What node:crypto answers for each case, on the calling thread. */
export function expectedOf(cases: VerifyCase[]): boolean[] {
  return cases.map((c) => verify(null, c.input, c.pub, c.sig));
}
