import { generateEd25519, type GeneratedKey } from './keys.ts';

/** A federation root key: Ed25519, kid = RFC 7638 thumbprint of the public JWK. */
export type RootKey = GeneratedKey;

/** Create a new federation root key (in memory; {@link initFederation} writes it). */
export async function createRootKey(): Promise<RootKey> {
  return await generateEd25519();
}
