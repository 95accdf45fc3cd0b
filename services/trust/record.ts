import { readdir } from 'node:fs/promises';
import { LiaisonError } from '../sdk/errors.ts';
import { readJsonFile } from './json-file.ts';
import { writePublicFile } from './key-file.ts';
import { trustPaths } from './paths.ts';

/** One credential in an agency's history. */
export interface CredentialEntry {
  jwt: string;
  kid: string;
  status: 'active' | 'superseded';
  /** ISO 8601; set when a rotation replaced this key. */
  supersededAt?: string;
}

/** One NATS user issued to an agency (public key only; the seed lives in the agency's nats.creds). */
export interface NatsUserEntry {
  publicKey: string;
  issuedAt: string;
  expiresAt: string;
  /** ISO 8601; set when the user was added to the account revocations (reissue or agency revocation). */
  revokedAt?: string;
  /** The user's current JWT (public: permissions and the public key). Published in the directory so a connected agency picks up a re-issued one. */
  jwt?: string;
}

/** TRUST_DIR/agencies/<id>.json: the public record of an enrolled agency. */
export interface AgencyRecord {
  id: string;
  name: string;
  country: string;
  roles: string[];
  enrolledAt: string;
  credentials: CredentialEntry[];
  nats: { users: NatsUserEntry[] };
  /** ISO 8601; messages the agency signed at or after this time are refused. */
  revokedAt?: string;
}

/** Read an agency record, or undefined when the agency is not enrolled. */
export async function readAgencyRecord(dir: string, id: string): Promise<AgencyRecord | undefined> {
  return await readJsonFile<AgencyRecord>(trustPaths(dir).agencyRecord(id), 'agency record');
}

/** Read an agency record or fail with ERR_AGENCY_UNKNOWN. */
export async function requireAgencyRecord(dir: string, id: string): Promise<AgencyRecord> {
  const rec = await readAgencyRecord(dir, id);
  if (!rec) throw new LiaisonError('ERR_AGENCY_UNKNOWN', `agency ${id} is not enrolled in the federation at ${dir}`, { agency: id });
  return rec;
}

/** Write an agency record (atomically). */
export async function writeAgencyRecord(dir: string, record: AgencyRecord): Promise<void> {
  await writePublicFile(trustPaths(dir).agencyRecord(record.id), `${JSON.stringify(record, null, 2)}\n`);
}

/** All agency records, sorted by id. */
export async function listAgencyRecords(dir: string): Promise<AgencyRecord[]> {
  const names = (await readdir(trustPaths(dir).agenciesDir)).filter((n) => n.endsWith('.json')).sort();
  const out: AgencyRecord[] = [];
  for (const n of names) {
    const rec = await readAgencyRecord(dir, n.slice(0, -'.json'.length));
    if (rec) out.push(rec);
  }
  return out;
}
