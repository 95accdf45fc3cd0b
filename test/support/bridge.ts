import { readFile } from 'node:fs/promises';
import { signAgreement } from '../../services/bridge/agreement/sign.ts';
import type { SignedAgreementFile } from '../../services/bridge/agreement/model.ts';
import { applyBridge, type BridgeApplyReport } from '../../services/bridge/apply.ts';
import { bridgeEndFromTrust, startBridge, type RunningBridge } from '../../services/bridge/bridge.ts';
import { revokeBridge, type BridgeRevokeReport } from '../../services/bridge/revoke.ts';
import { bridgeSupport } from '../../services/bridge/sdk-support.ts';
import { typeCatalogOf } from '../../services/sdk/client/type-catalog.ts';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { openFederation } from '../../services/trust/index.ts';
import type { TestFederation } from './federation.ts';
import type { TwoFederations } from './two-federations.ts';

/** One flow of a test agreement (qualified ids). */
export interface TestFlow {
  from: string;
  to: string;
  types: string[];
  tier: string;
}

/** med's xa-border-police → atl's xb-police, IntelligenceReport up to personal: the flow most bridge tests agree. */
export const POLICE_MED_TO_ATL: TestFlow = { from: 'med:xa-border-police', to: 'atl:xb-police', types: ['IntelligenceReport'], tier: 'personal' };

/** The same flow back: atl's xb-police → med's xa-border-police. */
export const POLICE_ATL_TO_MED: TestFlow = { from: 'atl:xb-police', to: 'med:xa-border-police', types: ['IntelligenceReport'], tier: 'personal' };

/** Keys of a test agreement beyond its flows. */
export interface AgreementOptions {
  /** `expires:` (default far in the future). */
  expires?: string;
  /** `outage:` (e.g. `24h`), when the agreement names one. */
  outage?: string;
}

/** The YAML text of an agreement between the two test federations, naming their real roots. */
export async function agreementText(feds: TwoFederations, id: string, flows: TestFlow[], o: AgreementOptions = {}): Promise<string> {
  const root = async (f: TestFederation) => (await openFederation(f.trustDir)).root.publicJwk;
  const jwk = (k: { kty: string; crv: string; x: string }) => `{ kty: ${k.kty}, crv: ${k.crv}, x: ${k.x} }`;
  return [
    'version: 1',
    `id: ${id}`,
    'federations:',
    `  - { name: med, root: ${jwk(await root(feds.med))} }`,
    `  - { name: atl, root: ${jwk(await root(feds.atl))} }`,
    `expires: ${o.expires ?? '2099-01-01T00:00:00Z'}`,
    ...(o.outage === undefined ? [] : [`outage: ${o.outage}`]),
    'flows:',
    ...flows.map((f) => `  - { from: ${f.from}, to: ${f.to}, types: [${f.types.join(', ')}], tier: ${f.tier} }`),
    '',
  ].join('\n');
}

/** The agreement signed by both roots, as `agreement.signed.json` holds it. */
export async function signedByBoth(feds: TwoFederations, text: string): Promise<SignedAgreementFile> {
  const signatures: Record<string, string> = {};
  for (const f of [feds.med, feds.atl]) {
    const fed = await openFederation(f.trustDir);
    signatures[fed.name] = await signAgreement(text, fed.root);
  }
  return { text, signatures };
}

/** `bridge apply` on one side, through the attached exchange (its admin connection; the directory pushed at once). */
export async function applyOn(f: TestFederation, doc: SignedAgreementFile): Promise<BridgeApplyReport> {
  return await applyBridge({ trustDir: f.trustDir, url: f.server.url, admin: f.exchange.admin, pushDirectory: () => f.exchange.directory.refresh(), signed: doc, catalog: typeCatalogOf(f.catalog) });
}

/** Agreement `id` on `flows` signed by both roots and applied on both sides (`bridge apply` on each); the signed file. */
export async function applyAgreement(feds: TwoFederations, id: string, flows: TestFlow[], o: AgreementOptions = {}): Promise<SignedAgreementFile> {
  const doc = await signedByBoth(feds, await agreementText(feds, id, flows, o));
  await applyOn(feds.med, doc);
  await applyOn(feds.atl, doc);
  return doc;
}

/** `bridge revoke` on one side. */
export async function revokeOn(f: TestFederation, id: string): Promise<BridgeRevokeReport> {
  return await revokeBridge({ trustDir: f.trustDir, url: f.server.url, admin: f.exchange.admin, pushDirectory: () => f.exchange.directory.refresh(), id, catalog: typeCatalogOf(f.catalog) });
}

/** `bridge up` between the two test federations for applied agreement `id`. */
export async function bridgeUp(feds: TwoFederations, id: string): Promise<RunningBridge> {
  const end = (f: TestFederation) => bridgeEndFromTrust({ trustDir: f.trustDir, url: f.server.url, id, catalog: typeCatalogOf(f.catalog) });
  return await startBridge({ a: await end(feds.med), b: await end(feds.atl) });
}

/** Connect an agency that sends and receives across its federation's agreements. */
export async function connectBridged(f: TestFederation, agency: string): Promise<LiaisonClient> {
  return await f.connect(agency, { bridges: bridgeSupport });
}

/**
 * Connect `medAgency` in med and `atlAgency` in atl for bridged traffic, returned once each holds the other
 * federation's verified directory (the bridge relayed it): they can send to each other at once. On a failure, what
 * it connected is closed.
 */
export async function connectAcross(feds: TwoFederations, medAgency: string, atlAgency: string, timeoutMs?: number): Promise<{ med: LiaisonClient; atl: LiaisonClient }> {
  const med = await connectBridged(feds.med, medAgency);
  let atl: LiaisonClient | undefined;
  try {
    atl = await connectBridged(feds.atl, atlAgency);
    await untilPeerKnown(med, 'atl', timeoutMs);
    await untilPeerKnown(atl, 'med', timeoutMs);
    return { med, atl };
  } catch (err) {
    await Promise.allSettled([med.close(), atl?.close()]);
    throw err;
  }
}

/** Wait until `client` holds a verified directory of federation `peer` (the bridge relayed it to its exchange). */
export async function untilPeerKnown(client: LiaisonClient, peer: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (client.openContext().bridges?.keys(peer)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${client.id} never learnt the directory of ${peer}`);
}

/** The CA a raw client of `f` verifies the server with. */
export async function caOf(f: TestFederation): Promise<string> {
  return await readFile(`${f.trustDir}/tls/ca.pem`, 'utf8');
}
