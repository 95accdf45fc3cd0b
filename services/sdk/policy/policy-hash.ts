import { createHash } from 'node:crypto';

/**
 * The one hash of a policy: `sha256:` and the hex SHA-256 of its text, byte for byte as the federation
 * root signs it into the directory. Message headers, the directory, `policy check`, `exchange status`
 * and the audit all carry this value, and anyone recomputes it without Liaison:
 * `echo "sha256:$(sha256sum policy.yaml | cut -d' ' -f1)"`. (A change of comments or layout is a new
 * policy: what was signed is what is named.)
 */
export function policyHash(policyText: string): string {
  return `sha256:${createHash('sha256').update(policyText, 'utf8').digest('hex')}`;
}
