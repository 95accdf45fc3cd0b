import { LiaisonError } from '../sdk/errors.ts';
import { revokeAgencyUsers } from './agency-accounts.ts';
import { writeDirectory } from './directory.ts';
import { openFederation } from './federation.ts';
import { requireAgencyRecord, writeAgencyRecord, type AgencyRecord } from './record.ts';

/** Options for {@link revokeAgency}. */
export interface RevokeOptions {
  /** TRUST_DIR */
  dir: string;
  agencyId: string;
  /** Revocation time: messages the agency signed at or after it are refused by receivers. Default now. */
  at?: Date;
}

/** What {@link revokeAgency} produced, and what the exchange must apply. */
export interface RevokeResult {
  record: AgencyRecord;
  /** The new directory.jws (the signed revocation list receivers enforce); publish it to receivers. */
  directory: string;
  /**
   * The re-signed exchange account JWT with the agency's NATS users in `revocations` (also written to
   * TRUST_DIR/nats/account.jwt). Push it to the running exchange with `applyAccountUpdate`; the server then
   * disconnects the agency at once and refuses its creds.
   */
  accountJwt: string;
  /** NATS user public keys added to the account revocations. */
  revokedUsers: string[];
}

/**
 * Revoke an agency: `revokedAt` in its public record and in directory.jws, and every NATS user it was ever
 * issued in the exchange account's revocations. Revoking again keeps the first `revokedAt`.
 */
export async function revokeAgency(opts: RevokeOptions): Promise<RevokeResult> {
  const at = opts.at ?? new Date();
  if (Number.isNaN(at.getTime())) throw new LiaisonError('ERR_USAGE', 'revocation time is not a valid date');
  const fed = await openFederation(opts.dir);
  const record = await requireAgencyRecord(fed.dir, opts.agencyId);
  record.revokedAt ??= at.toISOString();
  const revokedUsers = record.nats.users.map((u) => u.publicKey);
  const accountJwt = await revokeAgencyUsers(fed, opts.agencyId, revokedUsers, at);
  for (const u of record.nats.users) u.revokedAt ??= at.toISOString();
  await writeAgencyRecord(fed.dir, record);
  const directory = await writeDirectory(fed.dir, { federation: fed });
  return { record, directory, accountJwt, revokedUsers };
}
