import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { User } from '@nats-io/jwt';
import { LiaisonError } from '../sdk/errors.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { AGENCY_JS_API, SUBJECT_ROOT } from '../sdk/subjects.ts';
import { decodeNatsJwt, readPrivateFile } from '../trust/index.ts';
import { readSignedAgreement } from './agreement/file.ts';
import type { Agreement, SignedAgreementFile } from './agreement/model.ts';
import { parseAgreement } from './agreement/load.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { inboxOf, type BridgeEnd } from './bridge.ts';
import { asKitManifest, KIT_FILES, type KitManifest } from './kit.ts';

/**
 * `liaison bridge up --kit A --kit B` (issue 17): one federation's end of the bridge from the kit it handed over
 * (kit.ts), without its trust dir. Missing files are usage errors (ERR_USAGE), creds accessible by group or others
 * are refused (ERR_KEY_FILE_MODE), the agreement is verified (both roots' signatures over the same text, not
 * expired), and the two kits must be the two sides of that one agreement. What the bridge pulls and where it
 * publishes comes from the bridge users' own JWTs: exactly what the brokers will let them do.
 *
 * @module
 */

/** A kit read and checked. */
export interface BridgeKit {
  dir: string;
  manifest: KitManifest;
  doc: SignedAgreementFile;
  agreement: Agreement;
  ca?: string;
  exportCredsFile: string;
  importCredsFile: string;
  exportCreds: Uint8Array;
  importCreds: Uint8Array;
}

async function present(file: string, what: string): Promise<string> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new LiaisonError('ERR_USAGE', `bridge kit file ${file} (${what}) is missing (make the kit with \`liaison bridge export-kit\`)`, { file });
  return file;
}

/** Read kit `dir` and verify its agreement at `now` from its federation's side. */
export async function readKit(dir: string, o: { now?: Date; catalog?: TypeCatalog } = {}): Promise<BridgeKit> {
  const at = (f: string) => join(dir, f);
  const manifestFile = await present(at(KIT_FILES.manifest), 'the manifest');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestFile, 'utf8'));
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `${manifestFile} is not JSON`, { file: manifestFile }, { cause: err });
  }
  const manifest = asKitManifest(raw, manifestFile);
  const exportCredsFile = await present(at(KIT_FILES.exportCreds), 'the export user’s creds');
  const importCredsFile = await present(at(KIT_FILES.importCreds), 'the import user’s creds');
  const agreementFile = await present(at(KIT_FILES.agreement), 'the agreement signed by both roots');
  const caFile = manifest.tls ? await present(at(KIT_FILES.ca), 'the exchange’s CA certificate') : undefined;
  const exportCreds = new Uint8Array(await readPrivateFile(exportCredsFile));
  const importCreds = new Uint8Array(await readPrivateFile(importCredsFile));
  const doc = await readSignedAgreement(agreementFile);
  const agreement = verifyKitAgreement(doc, manifest, agreementFile, o);
  return { dir, manifest, doc, agreement, ...(caFile ? { ca: await readFile(caFile, 'utf8') } : {}), exportCredsFile, importCredsFile, exportCreds, importCreds };
}

/** The agreement verified from the kit's federation's side (its root as the agreement names it; both signatures). */
function verifyKitAgreement(doc: SignedAgreementFile, manifest: KitManifest, file: string, o: { now?: Date; catalog?: TypeCatalog }): Agreement {
  const named = parseAgreement(doc.text, file, o.catalog ? { catalog: o.catalog } : {});
  const own = named.federations.find((f) => f.name === manifest.federation);
  if (!own) throw new LiaisonError('ERR_AGREEMENT_INVALID', `${file}: agreement ${named.id} is not between ${manifest.federation} and another federation`, { file, agreement: named.id, reason: 'not-a-party' });
  if (named.id !== manifest.agreement) throw new LiaisonError('ERR_AGREEMENT_INVALID', `${file} is agreement ${named.id}, the kit's manifest says ${manifest.agreement}`, { file, agreement: named.id });
  return verifyAgreement(doc, { federation: own.name, root: own.root }, o.now ?? new Date(), { file, ...(o.catalog ? { catalog: o.catalog } : {}) });
}

/** The two kits must be the two parties of one agreement, with the same signed text. */
export function checkKitPair(a: BridgeKit, b: BridgeKit): void {
  if (a.doc.text !== b.doc.text) throw new LiaisonError('ERR_USAGE', `the kits ${a.dir} and ${b.dir} carry different agreements (${a.agreement.id}, ${b.agreement.id})`);
  if (a.manifest.federation === b.manifest.federation) throw new LiaisonError('ERR_USAGE', `both kits are ${a.manifest.federation}'s: give one kit of each federation of agreement ${a.agreement.id}`);
}

/** The user JWT of a `.creds` text. */
export function credsJwt(creds: Uint8Array, what: string): string {
  const m = /-----BEGIN NATS USER JWT-----\s*(\S+)\s*------END NATS USER JWT------/.exec(new TextDecoder().decode(creds));
  if (!m) throw new LiaisonError('ERR_CONFIG_INVALID', `${what} holds no NATS user JWT`);
  return m[1]!;
}

/** What a bridge user may do, from its JWT. */
function rightsOf(creds: Uint8Array, what: string): { pub: string[]; sub: string[] } {
  const claims = decodeNatsJwt<User>(credsJwt(creds, what), what).nats;
  return { pub: [...(claims.pub?.allow ?? [])], sub: [...(claims.sub?.allow ?? [])] };
}

const NEXT = `${AGENCY_JS_API}.CONSUMER.MSG.NEXT.`;
const DIRECTORY_REQUEST = `${SUBJECT_ROOT}.svc.trust.directory.`;

/** The export consumers an export user may pull (`LIAISON.API.CONSUMER.MSG.NEXT.<stream>.<name>`). */
export function consumersOfRights(pub: readonly string[]): { stream: string; name: string }[] {
  return pub
    .filter((s) => s.startsWith(NEXT))
    .map((s) => s.slice(NEXT.length).split('.'))
    .filter((t) => t.length === 2)
    .map(([stream, name]) => ({ stream: stream!, name: name! }));
}

/** One federation's end of the bridge from its kit. */
export function bridgeEndFromKit(kit: BridgeKit): BridgeEnd {
  const exp = rightsOf(kit.exportCreds, kit.exportCredsFile);
  const imp = rightsOf(kit.importCreds, kit.importCredsFile);
  const directoryRequest = exp.pub.find((s) => s.startsWith(DIRECTORY_REQUEST));
  return {
    federation: kit.manifest.federation,
    servers: kit.manifest.servers,
    ...(kit.ca ? { ca: kit.ca } : {}),
    exportCreds: kit.exportCreds,
    importCreds: kit.importCreds,
    exportInbox: inboxOf(exp.sub, 'export user'),
    importInbox: inboxOf(imp.sub, 'import user'),
    consumers: consumersOfRights(exp.pub),
    exportCredsFile: kit.exportCredsFile,
    importCredsFile: kit.importCredsFile,
    // Creds the side hands over again (a policy apply re-issues its users) carry the consumers as they are now.
    currentConsumers: async () => consumersOfRights(rightsOf(new Uint8Array(await readPrivateFile(kit.exportCredsFile)), kit.exportCredsFile).pub),
    ...(directoryRequest ? { directoryRequest } : {}),
  };
}
