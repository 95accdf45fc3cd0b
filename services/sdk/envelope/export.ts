import { verify as edVerify } from 'node:crypto';
import { LiaisonError } from '../errors.ts';
import type { KeyObject } from 'node:crypto';
import type { EnvelopeCodec } from './codec.ts';
import { parseProtectedHeader, signingInput, toFlattenedJws } from './jws.ts';

/**
 * One stored envelope as files any tool can check without Liaison: the wire bytes, the JWS parts,
 * the flattened JWS JSON serialization (RFC 7515 §7.2.2, detached unencoded payload per RFC 7797)
 * and the sender's public key as a JWK and as PEM — with the openssl and protoc commands that verify
 * and decode it (`VERIFY.md`).
 */
export interface ExportedEnvelope {
  /** File name → content, written side by side in one directory. */
  files: Record<string, Uint8Array | string>;
  /** What the signed header says (for the caller's summary line). */
  summary: { sender: string; id: string; type: string; tier: string; kid: string; alg: string };
  /** Whether the signature verified here against the sender's key from the root-signed directory. */
  verified: boolean;
}

/** The shell recipe, run from the export directory (the test runs exactly these commands). */
export const VERIFY_RECIPE = [
  "printf '%s.' \"$(cat protected.b64)\" | cat - signed.bin > signing-input.bin",
  'openssl pkeyutl -verify -pubin -inkey sender.pem -rawin -in signing-input.bin -sigfile signature.bin',
];

/**
 * The protoc recipe that decodes the signed header and the body of a `type` message (e.g. `DocumentReport`), run
 * from the export directory with `PROTO` set to the repository's `proto/` directory (the test runs exactly these).
 */
export const decodeRecipe = (type: string): string[] => [
  'protoc -I "$PROTO" --decode liaison.v1.Signed "$PROTO"/liaison/v1/envelope.proto < signed.bin',
  `protoc -I "$PROTO" --decode liaison.v1.${type} "$PROTO"/liaison/v1/*.proto < body.bin`,
];

function verifyText(s: ExportedEnvelope['summary']): string {
  return [
    `# ${s.type} ${s.id} from ${s.sender} (${s.tier} copy)`,
    '',
    'Exported by `liaison export`. Nothing here needs Liaison to check it.',
    '',
    '| File | What it is |',
    '|---|---|',
    '| `envelope.bin` | the message as stored by JetStream: protobuf `liaison.v1.Envelope { signed, protected, signature }` |',
    '| `signed.bin` | the JWS payload: protobuf `liaison.v1.Signed { Header header; bytes body }`, exactly the signed bytes |',
    `| \`protected.json\` | the JWS protected header (alg ${s.alg}, b64 false: RFC 7797 unencoded payload, kid ${s.kid}) |`,
    '| `protected.b64` | the same, base64url (as it enters the signing input) |',
    '| `signature.bin` | the 64-byte Ed25519 signature |',
    '| `jws.json` | the flattened JWS JSON serialization (RFC 7515 §7.2.2) with a detached payload: `signed.bin` |',
    "| `sender.jwk.json`, `sender.pem` | the sender's public key, from the federation root's signed directory |",
    '',
    '## Verify the signature (OpenSSL 3)',
    '',
    'The signing input of an unencoded-payload JWS is `BASE64URL(protected) || "." || payload`:',
    '',
    '```sh',
    ...VERIFY_RECIPE,
    '```',
    '',
    "## Read the header and the body (protoc, with the schemas of Liaison's repository)",
    '',
    '```sh',
    "PROTO=/path/to/liaison/proto   # the repository's proto/ directory",
    ...decodeRecipe(s.type),
    '```',
    '',
  ].join('\n');
}

/**
 * Export one envelope (`data`, as stored) whose sender's key is `key` (resolved from the verified
 * directory by the caller). Throws ERR_DECODE / ERR_PROTECTED_HEADER_INVALID for bytes that are not a
 * Liaison envelope; a signature that does not verify is exported all the same and reported.
 */
export function exportEnvelope(data: Uint8Array, codec: EnvelopeCodec, keyOf: (sender: string, kid: string) => { publicKey: KeyObject } | undefined): ExportedEnvelope {
  const parts = codec.decodeEnvelope(data);
  const { header: ph, b64 } = parseProtectedHeader(parts.protected);
  const { header, body } = codec.decodeSigned(parts.signed);
  const key = keyOf(header.sender, ph.kid);
  if (!key) throw new LiaisonError('ERR_KEY_UNKNOWN', `the directory has no key ${ph.kid} for ${header.sender}`, { sender: header.sender, kid: ph.kid });
  const input = signingInput(b64, parts.signed);
  const verified = parts.signature.byteLength === 64 && edVerify(null, input, key.publicKey, parts.signature);
  const jws = toFlattenedJws(parts);
  const summary = { sender: header.sender, id: header.id, type: header.type.slice(header.type.lastIndexOf('.') + 1), tier: header.tier, kid: ph.kid, alg: ph.alg };
  const publicJwk = { ...key.publicKey.export({ format: 'jwk' }), kid: ph.kid };
  return {
    summary,
    verified,
    files: {
      'envelope.bin': data,
      'signed.bin': parts.signed,
      'body.bin': body,
      'protected.json': `${Buffer.from(parts.protected).toString('utf8')}\n`,
      'protected.b64': b64.toString('ascii'),
      'signature.bin': parts.signature,
      'jws.json': `${JSON.stringify({ protected: jws.protected, signature: jws.signature }, null, 2)}\n`,
      'sender.jwk.json': `${JSON.stringify(publicJwk, null, 2)}\n`,
      'sender.pem': String(key.publicKey.export({ format: 'pem', type: 'spki' })),
      'VERIFY.md': verifyText(summary),
    },
  };
}
