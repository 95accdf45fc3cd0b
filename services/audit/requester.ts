/**
 * Who asked: a service request names its sender in its signed header, and in a NATS header
 * (`ce-source`) that anyone publishing on the service subject may set to anything. The audit records
 * the signer instead, verified against the root-signed federation directory (the same check a
 * receiving SDK makes), so `audit query --agency` and `explain` cannot be misled by a request that
 * claims another agency.
 */
import { readFile, stat } from 'node:fs/promises';
import { createEnvelopeCodec, type EnvelopeCodec } from '../sdk/envelope/codec.ts';
import { parseProtectedHeader, verifyDetached, verifyDetachedWith, type SignatureCheck } from '../sdk/envelope/jws.ts';
import type { KeyResolver } from '../sdk/envelope/open.ts';
import { isLiaisonError } from '../sdk/errors.ts';
import { federationView } from '../sdk/client/directory.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { loadCatalog } from '../sdk/schema/index.ts';
import { trustPaths } from '../trust/paths.ts';
import { verifyDirectory, type Ed25519PublicJwk } from '../trust/index.ts';

/** What the audit knows of a request's sender. */
export interface RequestSigner {
  /** The agency the signed header names (undefined when the bytes are no envelope). */
  sender?: string;
  /** Set when the signature could not be verified: the error code and why. */
  unverified?: string;
}

/** Minimum time between two reads of the directory file for an unknown key. */
const RELOAD_MS = 1_000;

/** Verifies request signers against the federation directory of a trust dir (re-read when it changes). */
export class RequestVerifier {
  readonly #trustDir: string;
  readonly #types: TypeCatalog;
  readonly #codec: EnvelopeCodec;
  #keys: KeyResolver = () => undefined;
  #mtime = -1;
  #lastRead = 0;

  private constructor(trustDir: string, types: TypeCatalog) {
    this.#trustDir = trustDir;
    this.#types = types;
    this.#codec = createEnvelopeCodec(loadCatalog().envelopeTypes);
  }

  static async open(trustDir: string, types: TypeCatalog): Promise<RequestVerifier> {
    const v = new RequestVerifier(trustDir, types);
    await v.#reload(true);
    return v;
  }

  /** Re-read the directory when its file changed (at most once a second unless forced). */
  async #reload(force = false): Promise<void> {
    if (!force && Date.now() - this.#lastRead < RELOAD_MS) return;
    this.#lastRead = Date.now();
    const p = trustPaths(this.#trustDir);
    const mtime = (await stat(p.directory)).mtimeMs;
    if (mtime === this.#mtime) return;
    const root = JSON.parse(await readFile(p.rootPub, 'utf8')) as Ed25519PublicJwk;
    const directory = await verifyDirectory((await readFile(p.directory, 'utf8')).trim(), root);
    this.#keys = federationView(directory, this.#types).keys;
    this.#mtime = mtime;
  }

  /**
   * The signer of a request, and whether its signature verifies under the directory's key; the Ed25519 check by
   * `check` when given (a crypto pool's worker thread), else on the calling thread.
   */
  async verify(data: Uint8Array, check?: SignatureCheck): Promise<RequestSigner> {
    let sender: string | undefined;
    try {
      const env = this.#codec.decodeEnvelope(data);
      const ph = parseProtectedHeader(env.protected);
      sender = this.#codec.decodeSigned(env.signed).header.sender;
      let key = this.#keys(sender, ph.header.kid);
      if (!key) {
        // Perhaps enrolled or rotated a moment ago: read the directory again.
        await this.#reload().catch(() => undefined);
        key = this.#keys(sender, ph.header.kid);
      }
      if (!key) return { sender, unverified: `ERR_KEY_UNKNOWN: key ${ph.header.kid} is not a signing key of ${sender} in the federation directory` };
      const ok = check ? await verifyDetachedWith(check, env.signed, ph.b64, env.signature, key.publicKey) : verifyDetached(env.signed, ph.b64, env.signature, key.publicKey);
      if (!ok) return { sender, unverified: `ERR_SIGNATURE_INVALID: signature of ${sender} does not verify` };
      return { sender };
    } catch (err) {
      const code = isLiaisonError(err) ? err.code : 'ERR_DECODE';
      return { ...(sender ? { sender } : {}), unverified: `${code}: ${(err as Error).message}` };
    }
  }
}
