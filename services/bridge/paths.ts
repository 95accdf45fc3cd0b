import { join } from 'node:path';
import { appliedAgreementFile, bridgesDir } from '../trust/applied-agreements.ts';

/** What `liaison bridge apply` keeps for one agreement in TRUST_DIR/bridges/<id>/. */
export interface BridgePaths {
  dir: string;
  /** The verified `agreement.signed.json` (its presence is what "applied" means). */
  agreement: string;
  /** The agreement once revoked (kept for the record; not in the directory). */
  revoked: string;
  /** The export user's `.creds` (0600): pulls and acks the export consumers. */
  exportCreds: string;
  /** The import user's `.creds` (0600): publishes the inbound flows' subjects and the peer's directory. */
  importCreds: string;
  /** The bridge users' public keys (for revocation). */
  users: string;
}

/** The paths of bridge `id` in TRUST_DIR `trustDir`. */
export function bridgePaths(trustDir: string, id: string): BridgePaths {
  const dir = join(bridgesDir(trustDir), id);
  return {
    dir,
    agreement: appliedAgreementFile(trustDir, id),
    revoked: join(dir, 'agreement.revoked.json'),
    exportCreds: join(dir, 'export.creds'),
    importCreds: join(dir, 'import.creds'),
    users: join(dir, 'users.json'),
  };
}

/** The NATS account that holds one agreement's bridge users, kept with the agencies' accounts (compile.ts names it). */
export { bridgeAccountName as bridgeAccountId } from './compile.ts';
