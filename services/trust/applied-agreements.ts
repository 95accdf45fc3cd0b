import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirectoryAgreement } from '../sdk/trust/directory.ts';

/** Where a federation keeps what each applied cross-federation agreement needs: TRUST_DIR/bridges/<id>/. */
export function bridgesDir(trustDir: string): string {
  return join(trustDir, 'bridges');
}

/** The stored, verified agreement of bridge `id` (written by `liaison bridge apply`, removed by `bridge revoke`). */
export function appliedAgreementFile(trustDir: string, id: string): string {
  return join(bridgesDir(trustDir), id, 'agreement.signed.json');
}

/**
 * Every agreement applied in TRUST_DIR (verified when applied), sorted by id, as the root-signed directory carries
 * them: clients verify each again against both roots.
 */
export async function listAppliedAgreements(trustDir: string): Promise<{ id: string; agreement: DirectoryAgreement }[]> {
  const ids = (await readdir(bridgesDir(trustDir)).catch(() => [] as string[])).sort();
  const out: { id: string; agreement: DirectoryAgreement }[] = [];
  for (const id of ids) {
    let text: string;
    try {
      text = await readFile(appliedAgreementFile(trustDir, id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const doc = JSON.parse(text) as DirectoryAgreement;
    out.push({ id, agreement: { text: doc.text, signatures: { ...doc.signatures } } });
  }
  return out;
}
