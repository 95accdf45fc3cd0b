import { readFile } from 'node:fs/promises';
import { LineCounter, isScalar, parseDocument } from 'yaml';
import { LiaisonError } from '../../sdk/errors.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { IssueList, type PolicyIssue } from '../../sdk/policy/issues.ts';
import { parseDuration } from '../../sdk/policy/duration.ts';
import { MAX_OFFLINE_MS } from '../../sdk/policy/edge.ts';
import type { TypeCatalog } from '../../sdk/policy/model.ts';
import { entries, field, items, oneOf, str, stringList, type Entry, type Located, type Walk } from '../../sdk/policy/yaml-walk.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { assertEd25519PublicJwk } from '../../sdk/trust/keys.ts';
import { TIERS, isTier } from '../../sdk/tier.ts';
import { AGREEMENT_ID_RE, FEDERATION_TOKEN_RE, agreementHash, parseQualified, type Agreement, type FederationRef, type Flow } from './model.ts';

/**
 * Parse and validate an agreement file (YAML). Every problem is collected, each located at
 * `FILE:LINE:COL KEY`; any → one `ERR_AGREEMENT_INVALID` whose details hold the first's file, line,
 * column and key and every issue (`errors`), as a policy's errors are reported.
 *
 * ```yaml
 * version: 1
 * id: med-atl
 * federations:
 *   - { name: med, root: { kty: OKP, crv: Ed25519, x: … } }
 *   - { name: atl, root: { kty: OKP, crv: Ed25519, x: … } }
 * expires: 2027-06-30T00:00:00Z
 * outage: 24h            # optional: a bridge's backlog this late is still accepted (default: minutes)
 * flows:
 *   - { from: atl:xb-police, to: med:xa-border-police, types: [IntelligenceReport], tier: personal }
 * ```
 *
 * @module
 */

/** Options of {@link parseAgreement}. */
export interface ParseAgreementOptions {
  /** The catalogue flow types are checked against (default: the schemas shipped with Liaison). */
  catalog?: TypeCatalog;
}

const TOP_KEYS = ['version', 'id', 'description', 'federations', 'expires', 'outage', 'flows'] as const;
const FEDERATION_KEYS = ['name', 'root'] as const;
const FLOW_KEYS = ['from', 'to', 'types', 'tier'] as const;

let defaultCatalog: TypeCatalog | undefined;
function shippedCatalog(): TypeCatalog {
  return (defaultCatalog ??= typeCatalogOf(loadCatalog()));
}

/** Parse and validate an agreement; `file` names it in error locations. Throws ERR_AGREEMENT_INVALID. */
export function parseAgreement(text: string, file?: string, opts: ParseAgreementOptions = {}): Agreement {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues = new IssueList(file ?? '<agreement>', lines);
  for (const err of doc.errors) issues.add(err.pos[0], '', `YAML syntax error: ${err.message.split('\n')[0]}`);
  const body = doc.errors.length === 0 ? validateAgreement({ doc, issues }, opts.catalog ?? shippedCatalog()) : undefined;
  if (issues.items.length > 0 || !body) throw agreementInvalid(issues.items);
  return { ...body, text, hash: agreementHash(text), source: file !== undefined ? { file } : {} };
}

/** Read and parse an agreement file (errors are located in `path`; unreadable → ERR_AGREEMENT_INVALID). */
export async function loadAgreementFile(path: string, opts: ParseAgreementOptions = {}): Promise<Agreement> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LiaisonError('ERR_AGREEMENT_INVALID', `${path}: cannot read the agreement file (${(err as Error).message})`, { file: path }, { cause: err });
  }
  return parseAgreement(text, path, opts);
}

type Body = Omit<Agreement, 'text' | 'hash' | 'source'>;

function validateAgreement(w: Walk, catalog: TypeCatalog): Body | undefined {
  const root: Located = { value: w.doc.contents, path: '', at: 0 };
  const top = entries(w, root, TOP_KEYS);
  if (!top) return undefined;
  const version = field(w, top, root, 'version', false);
  if (version && !(isScalar(version.value) && version.value.value === 1)) w.issues.add(version.at, version.path, 'must be 1');
  const id = idOf(w, field(w, top, root, 'id', true));
  const descEntry = field(w, top, root, 'description', false);
  const description = descEntry ? str(w, descEntry) : undefined;
  const federations = federationsOf(w, field(w, top, root, 'federations', true));
  const expiresAt = expiresOf(w, field(w, top, root, 'expires', true));
  const outageEntry = field(w, top, root, 'outage', false);
  const outageMs = outageEntry ? outageOf(w, outageEntry) : undefined;
  const flowsEntry = field(w, top, root, 'flows', true);
  const flows = flowsEntry && federations ? flowsOf(w, flowsEntry, federations, catalog) : undefined;
  if (id === undefined || !federations || !expiresAt || !flows) return undefined;
  return { id, federations, flows, expiresAt, ...(description !== undefined ? { description } : {}), ...(outageMs !== undefined ? { outageMs } : {}) };
}

/** `outage: 24h`: a duration (days, hours, minutes) of at most {@link MAX_OFFLINE_MS}, as a policy's edge allowance. */
function outageOf(w: Walk, e: Entry): number | undefined {
  const text = isScalar(e.value) && typeof e.value.value === 'string' ? e.value.value : undefined;
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined) {
    w.issues.add(e.at, e.path, `invalid duration ${JSON.stringify(isScalar(e.value) ? e.value.value : null)} (expected a whole number of days, hours or minutes: 24h, 3d, 90m)`);
    return undefined;
  }
  if (ms > MAX_OFFLINE_MS) {
    w.issues.add(e.at, e.path, `outage allowance ${text} is longer than ${MAX_OFFLINE_MS / 86_400_000}d, the longest offline allowance a policy may grant`);
    return undefined;
  }
  return ms;
}

function idOf(w: Walk, e: Entry | undefined): string | undefined {
  if (!e) return undefined;
  const id = str(w, e);
  if (id === undefined) return undefined;
  if (!AGREEMENT_ID_RE.test(id)) {
    w.issues.add(e.at, e.path, `invalid agreement id "${id}" (expected ${AGREEMENT_ID_RE.source})`);
    return undefined;
  }
  return id;
}

function expiresOf(w: Walk, e: Entry | undefined): Date | undefined {
  if (!e) return undefined;
  const v = isScalar(e.value) ? e.value.value : undefined;
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}(T|$)/.test(v) ? Date.parse(v) : v instanceof Date ? v.getTime() : Number.NaN;
  if (Number.isNaN(ms)) {
    w.issues.add(e.at, e.path, `expected an ISO 8601 date or time (e.g. 2027-06-30T00:00:00Z), got ${JSON.stringify(v ?? null)}`);
    return undefined;
  }
  return new Date(ms);
}

/** Exactly two federations, distinct names (each a federation token), distinct Ed25519 root keys. */
function federationsOf(w: Walk, e: Entry | undefined): [FederationRef, FederationRef] | undefined {
  if (!e) return undefined;
  const list = items(w, e);
  if (!list) return undefined;
  if (list.length !== 2) {
    w.issues.add(e.at, e.path, `an agreement is between exactly two federations, got ${list.length}`);
    return undefined;
  }
  const refs = list.map((loc) => federationOf(w, loc));
  const [a, b] = refs;
  if (!a || !b) return undefined;
  if (a.name === b.name) {
    w.issues.add(list[1]!.at, `${list[1]!.path}.name`, `duplicate federation "${b.name}" (already at ${list[0]!.path})`);
    return undefined;
  }
  if (a.root.x === b.root.x) {
    w.issues.add(list[1]!.at, `${list[1]!.path}.root`, `the two federations have the same root key`);
    return undefined;
  }
  return [a, b];
}

function federationOf(w: Walk, loc: Located): FederationRef | undefined {
  const fe = entries(w, loc, FEDERATION_KEYS);
  if (!fe) return undefined;
  const nameE = field(w, fe, loc, 'name', true);
  const rootE = field(w, fe, loc, 'root', true);
  const name = nameE ? str(w, nameE) : undefined;
  if (nameE && name !== undefined && !FEDERATION_TOKEN_RE.test(name)) {
    w.issues.add(nameE.at, nameE.path, `invalid federation name "${name}" (expected ${FEDERATION_TOKEN_RE.source})`);
    return undefined;
  }
  if (!rootE) return undefined;
  let root;
  try {
    root = assertEd25519PublicJwk(rootE.value ? rootE.value.toJSON() : null);
  } catch (err) {
    w.issues.add(rootE.at, rootE.path, `expected the federation's root public key as an Ed25519 JWK: ${(err as Error).message}`);
    return undefined;
  }
  return name === undefined ? undefined : { name, root };
}

function flowsOf(w: Walk, e: Entry, feds: [FederationRef, FederationRef], catalog: TypeCatalog): Flow[] | undefined {
  const list = items(w, e);
  if (!list) return undefined;
  if (list.length === 0) {
    w.issues.add(e.at, e.path, 'must not be empty');
    return undefined;
  }
  const flows: Flow[] = [];
  const seen = new Map<string, string>();
  list.forEach((loc, index) => {
    const flow = flowOf(w, loc, index, feds, catalog);
    if (!flow) return;
    for (const type of flow.types) {
      const key = `${flow.from}\u0000${flow.to}\u0000${type}`;
      const dup = seen.get(key);
      if (dup !== undefined) w.issues.add(loc.at, loc.path, `duplicate flow: ${flow.from} → ${flow.to} ${type} is already at ${dup}`);
      else seen.set(key, loc.path);
    }
    flows.push(flow);
  });
  return flows;
}

function flowOf(w: Walk, loc: Located, index: number, feds: [FederationRef, FederationRef], catalog: TypeCatalog): Flow | undefined {
  const before = w.issues.items.length;
  const fe = entries(w, loc, FLOW_KEYS);
  if (!fe) return undefined;
  const names = feds.map((f) => f.name);
  const party = (k: 'from' | 'to') => {
    const pe = field(w, fe, loc, k, true);
    const id = pe ? str(w, pe) : undefined;
    if (!pe || id === undefined) return undefined;
    const q = parseQualified(id);
    if (!q) w.issues.add(pe.at, pe.path, `invalid qualified agency id "${id}" (expected <federation>:<agency>, e.g. atl:xb-police)`);
    else if (!names.includes(q.federation)) w.issues.add(pe.at, pe.path, `"${id}" names federation "${q.federation}", which is not a party (${names.join(', ')})`);
    else return { id, federation: q.federation };
    return undefined;
  };
  const from = party('from');
  const to = party('to');
  if (from && to && from.federation === to.federation) {
    w.issues.add(loc.at, loc.path, `a flow crosses federations: ${from.id} and ${to.id} are both of ${from.federation} (their own policy governs that)`);
  }
  const typesE = field(w, fe, loc, 'types', true);
  const types = typesE ? stringList(w, typesE, oneOf('message type', catalog.types())) : undefined;
  const tierE = field(w, fe, loc, 'tier', true);
  const tierV = tierE && isScalar(tierE.value) ? tierE.value.value : undefined;
  if (tierE && !isTier(tierV)) w.issues.add(tierE.at, tierE.path, `invalid tier ${JSON.stringify(tierV ?? null)} (expected one of ${TIERS.join(', ')})`);
  if (w.issues.items.length > before || !from || !to || !types || !isTier(tierV)) return undefined;
  return { from: from.id, to: to.id, types, tier: tierV, index };
}

function agreementInvalid(errors: PolicyIssue[]): LiaisonError {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  const message = [first.text + more, ...errors.slice(1).map((e) => `  ${e.text}`)].join('\n');
  return new LiaisonError('ERR_AGREEMENT_INVALID', message, {
    ...(first.file !== undefined ? { file: first.file } : {}),
    line: first.line,
    column: first.column,
    key: first.key,
    errors,
  });
}
