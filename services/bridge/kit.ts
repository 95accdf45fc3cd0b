import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serverList } from '../sdk/client/nats-tls.ts';
import { LiaisonError } from '../sdk/errors.ts';
import type { TypeCatalog } from '../sdk/policy/index.ts';
import { openFederation, readPrivateFile, trustPaths, writePrivateFile, writePublicFile } from '../trust/index.ts';
import { readSignedAgreement, writeSignedAgreement } from './agreement/file.ts';
import { verifyAgreement } from './agreement/sign.ts';
import { bridgePaths } from './paths.ts';

/**
 * A bridge kit (issue 17): what one federation hands the bridge operator so that `liaison bridge up --kit A --kit B`
 * runs without either trust dir. Two exchanges belong to two organisations; neither gives the other its root, its
 * account seeds or its policy. A kit holds only that side's two bridge users (`export.creds`, `import.creds`, 0600:
 * the broker bounds everything they can do), its exchange's server URLs and CA certificate, and the agreement signed
 * by both roots. The bridge reads its export consumers, inboxes and directory subject from the users' own JWTs.
 *
 * @module
 */

/** The files of a kit directory. */
export const KIT_FILES = {
  manifest: 'kit.json',
  exportCreds: 'export.creds',
  importCreds: 'import.creds',
  ca: 'ca.pem',
  agreement: 'agreement.signed.json',
} as const;

/** `kit.json`: whose kit it is and where its exchange is. */
export interface KitManifest {
  version: 1;
  /** The federation this kit is of (its name in the agreement). */
  federation: string;
  /** The agreement id. */
  agreement: string;
  /** The exchange's server URLs (`tls://…`, or `nats://…` on loopback with `tls: false`). */
  servers: string[];
  /** Whether `ca.pem` is in the kit (false: plain TCP, loopback only). */
  tls: boolean;
}

/** What `liaison bridge export-kit` wrote. */
export interface ExportKitReport {
  dir: string;
  federation: string;
  agreement: string;
  files: string[];
}

/**
 * `liaison bridge export-kit --trust DIR --agreement ID --out DIR`: the kit of agreement `id`, applied on this
 * federation's exchange (ERR_USAGE when it is not; the agreement is verified again), written to `out` (0700; the
 * creds 0600).
 */
export async function exportKit(o: { trustDir: string; id: string; url: string; plain?: boolean; out: string; catalog: TypeCatalog; now?: Date }): Promise<ExportKitReport> {
  const fed = await openFederation(o.trustDir);
  const paths = bridgePaths(o.trustDir, o.id);
  const doc = await readSignedAgreement(paths.agreement).catch((err: unknown) => {
    throw new LiaisonError('ERR_USAGE', `agreement ${o.id} is not applied in ${o.trustDir} (liaison bridge apply)`, { agreement: o.id }, { cause: err });
  });
  verifyAgreement(doc, { federation: fed.name, root: fed.root.publicJwk }, o.now ?? new Date(), { catalog: o.catalog });
  await mkdir(o.out, { recursive: true, mode: 0o700 });
  const at = (f: string) => join(o.out, f);
  await writePrivateFile(at(KIT_FILES.exportCreds), await readPrivateFile(paths.exportCreds));
  await writePrivateFile(at(KIT_FILES.importCreds), await readPrivateFile(paths.importCreds));
  await writeSignedAgreement(at(KIT_FILES.agreement), doc);
  const files: string[] = [KIT_FILES.manifest, KIT_FILES.exportCreds, KIT_FILES.importCreds, KIT_FILES.agreement];
  if (!o.plain) {
    await writePublicFile(at(KIT_FILES.ca), await readFile(trustPaths(o.trustDir).caCert, 'utf8'));
    files.push(KIT_FILES.ca);
  }
  const manifest: KitManifest = { version: 1, federation: fed.name, agreement: o.id, servers: serverList(o.url), tls: !o.plain };
  await writePublicFile(at(KIT_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  return { dir: o.out, federation: fed.name, agreement: o.id, files: files.sort() };
}

/** The manifest's shape, or ERR_CONFIG_INVALID naming the file. */
export function asKitManifest(value: unknown, file: string): KitManifest {
  const v = value as Partial<KitManifest> | null;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    v.version === 1 &&
    typeof v.federation === 'string' &&
    typeof v.agreement === 'string' &&
    Array.isArray(v.servers) &&
    v.servers.length > 0 &&
    v.servers.every((s) => typeof s === 'string') &&
    typeof v.tls === 'boolean';
  if (!ok) throw new LiaisonError('ERR_CONFIG_INVALID', `${file} is not a bridge kit manifest ({ version: 1, federation, agreement, servers: [...], tls })`, { file });
  return { version: 1, federation: v.federation!, agreement: v.agreement!, servers: [...v.servers!], tls: v.tls! };
}
