import { isScalar, isSeq } from 'yaml';
import { HANDLING_CODES, TIERS, TLP_LABELS, type HandlingCode, type TlpLabel } from '../tier.ts';
import { HANDLED_BUCKET } from './compile.ts';
import { ATTACHMENT_BUCKET_PREFIX } from './attachments.ts';
import { closest } from './issues.ts';
import { checkOnePerState } from './designated.ts';
import { DEFAULT_RETENTION_MS, type AgencyEntry, type Policy, type ReceiveRule, type ReceiveScope, type Role, type TypeCatalog } from './model.ts';
import { parseDuration } from './duration.ts';
import { readEdge } from './edge.ts';
import { describe, entries, field, items, oneOf, str, stringList, type Entry, type Located, type Walk } from './yaml-walk.ts';

/** The parsed content of a policy, before hashing. */
export type PolicyBody = Omit<Policy, 'hash' | 'source'>;

const TOP_KEYS = ['version', 'name', 'description', 'roles', 'agencies', 'retention', 'consent', 'edge'] as const;
const ROLE_KEYS = ['description', 'send', 'receive', 'serve', 'state'] as const;
const STATE_KEYS = ['kv', 'objects'] as const;
const BUCKET_RE = /^[a-z][a-z0-9-]{0,30}$/;
const RULE_KEYS = ['types', 'tier', 'scope', 'handling', 'tlp'] as const;
const AGENCY_KEYS = ['name', 'country', 'roles', 'replicas'] as const;
const SCOPES: readonly ReceiveScope[] = ['direct', 'broadcast', 'any', 'observe'];
const NAME_RE = /^[a-z][a-z0-9-]{1,40}$/;
const COUNTRY_RE = /^[A-Z]{3}$/;
const DEFAULT_KEY = 'default';

/** Walk a parsed policy document, reporting every problem to `w.issues`; the result is meaningful only without issues. */
export function validatePolicy(w: Walk, catalog: TypeCatalog): PolicyBody {
  const body: PolicyBody = { version: 1, name: '', roles: {}, agencies: {}, retention: {}, defaultRetentionMs: DEFAULT_RETENTION_MS };
  const root: Located = { value: w.doc.contents, path: '', at: w.doc.contents?.range?.[0] ?? 0 };
  const top = entries(w, root, TOP_KEYS);
  if (!top) return body;

  const version = field(w, top, root, 'version', true);
  if (version && !(isScalar(version.value) && version.value.value === 1)) {
    w.issues.add(version.at, 'version', `unsupported version ${describe(version.value)} (expected 1)`);
  }
  const name = field(w, top, root, 'name', true);
  if (name) body.name = str(w, name) ?? '';
  const description = field(w, top, root, 'description', false);
  if (description) {
    const d = str(w, description);
    if (d !== undefined) body.description = d;
  }

  const typeCheck = checkType(catalog);
  const rolesEntry = field(w, top, root, 'roles', true);
  const roleEntries = rolesEntry ? entries(w, rolesEntry) : undefined;
  for (const e of roleEntries ?? []) {
    const role = readRole(w, e, typeCheck);
    if (role) body.roles[e.key] = role;
  }
  const declaredRoles = (roleEntries ?? []).map((e) => e.key);

  const agenciesEntry = field(w, top, root, 'agencies', true);
  const agencyEntries = (agenciesEntry ? entries(w, agenciesEntry) : undefined) ?? [];
  for (const e of agencyEntries) {
    const agency = readAgency(w, e, declaredRoles);
    if (agency) body.agencies[e.key] = agency;
  }
  checkObservers(w, body, agencyEntries);
  checkSingleServer(w, body, agencyEntries);
  checkOnePerState(w, body, agencyEntries);

  const retention = field(w, top, root, 'retention', false);
  if (retention) readRetention(w, retention, catalog, body);
  const consent = field(w, top, root, 'consent', false);
  if (consent && seqLength(consent) !== 0) body.consent = stringList(w, consent, typeCheck) ?? [];
  const edge = field(w, top, root, 'edge', false);
  if (edge) readEdge(w, edge, body);
  return body;
}

function checkType(catalog: TypeCatalog): (t: string) => string | undefined {
  return (t) => {
    if (catalog.familyOf(t) !== undefined) return undefined;
    const short = t.startsWith('liaison.v1.') ? t.slice('liaison.v1.'.length) : undefined;
    if (short && catalog.familyOf(short) !== undefined) return `unknown message type "${t}" (use the short name "${short}")`;
    const hint = closest(t, catalog.types());
    return `unknown message type "${t}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
  };
}

function checkName(w: Walk, e: Entry, what: string, extra = ''): void {
  if (!NAME_RE.test(e.key) || e.key === 'all') {
    w.issues.add(e.at, e.path, `invalid ${what} "${e.key}" (expected ${NAME_RE.source}${extra})`);
  }
}

function readRole(w: Walk, e: Entry, typeCheck: (t: string) => string | undefined): Role | undefined {
  checkName(w, e, 'role name');
  const fields = entries(w, e, ROLE_KEYS);
  if (!fields) return undefined;
  const role: Role = { name: e.key, send: [], receive: [], serve: [], state: { kv: [], objects: [] } };
  const description = field(w, fields, e, 'description', false);
  if (description) {
    const d = str(w, description);
    if (d !== undefined) role.description = d;
  }
  const send = field(w, fields, e, 'send', false);
  if (send) role.send = (seqLength(send) === 0 ? [] : stringList(w, send, typeCheck)) ?? [];
  const receive = field(w, fields, e, 'receive', false);
  const rules = receive ? items(w, receive) : undefined;
  (rules ?? []).forEach((loc, index) => {
    const rule = readRule(w, loc, e.key, index, typeCheck);
    if (rule) role.receive.push(rule);
  });
  const serve = field(w, fields, e, 'serve', false);
  if (serve) role.serve = (seqLength(serve) === 0 ? [] : stringList(w, serve, typeCheck)) ?? [];
  for (const t of role.serve) {
    if (!role.receive.some((r) => r.types.includes(t) && (r.scope === 'direct' || r.scope === 'any'))) {
      w.issues.add(serve!.at, `${e.path}.serve`, `the role serves ${t} but has no direct receive rule for it (add one with the tier requests are sealed at)`);
    }
  }
  const state = field(w, fields, e, 'state', false);
  if (state) readState(w, state, role);
  if (seqLength(send) === 0 && seqLength(receive) === 0) {
    w.issues.add(e.at, e.path, 'the role may neither send nor receive anything (give it a send list or a receive rule)');
  }
  return role;
}

function readState(w: Walk, loc: Located, role: Role): void {
  const fields = entries(w, loc, STATE_KEYS);
  if (!fields) return;
  for (const kind of STATE_KEYS) {
    const list = field(w, fields, loc, kind, false);
    if (!list || seqLength(list) === 0) continue;
    role.state[kind] =
      stringList(w, list, (n) =>
        n === HANDLED_BUCKET
          ? `bucket name "${n}" is reserved: every agency has a built-in "${n}" KV bucket (its SDK's record of handled messages)`
          : n.startsWith(ATTACHMENT_BUCKET_PREFIX)
            ? `bucket name "${n}" is reserved: "${ATTACHMENT_BUCKET_PREFIX}" names the attachment stores compiled from the schemas`
          : BUCKET_RE.test(n)
            ? undefined
            : `invalid bucket name "${n}" (expected ${BUCKET_RE.source})`,
      ) ?? [];
  }
}

/**
 * An agency observes a type (sees it between any agencies) or receives it as a party, not both:
 * otherwise copies directed to it would reach it twice, through two consumers.
 */
function checkObservers(w: Walk, body: PolicyBody, agencyEntries: Entry[]): void {
  for (const e of agencyEntries) {
    const a = body.agencies[e.key];
    if (!a) continue;
    const rules = a.roles.flatMap((r) => body.roles[r]?.receive ?? []);
    const observed = new Set(rules.filter((r) => r.scope === 'observe').flatMap((r) => r.types));
    for (const rule of rules) {
      if (rule.scope === 'observe') continue;
      const both = rule.types.filter((t) => observed.has(t));
      if (both.length > 0) {
        w.issues.add(e.at, `${e.path}.roles`, `agency ${e.key} both observes and receives ${both.join(', ')} (roles.${rule.role}.receive[${rule.index}]); an observer sees every copy already`);
      }
    }
  }
}

/**
 * One agency serves each request type (its replicas share it): requests cross from the requester's NATS
 * account through the exchange's, which can route one subject to one account only.
 */
function checkSingleServer(w: Walk, body: PolicyBody, agencyEntries: Entry[]): void {
  const first = new Map<string, string>();
  for (const e of agencyEntries) {
    const a = body.agencies[e.key];
    if (!a) continue;
    for (const type of new Set(a.roles.flatMap((r) => body.roles[r]?.serve ?? []))) {
      const other = first.get(type);
      if (other === undefined) first.set(type, e.key);
      else w.issues.add(e.at, `${e.path}.roles`, `agency ${e.key} would serve ${type}, which ${other} serves already: one agency serves each request type (give it replicas instead)`);
    }
  }
}

/** Items in a list entry: 0 when absent or empty, -1 when not a list (already reported). */
function seqLength(loc: Located | undefined): number {
  if (!loc) return 0;
  return isSeq(loc.value) ? loc.value.items.length : -1;
}

function readRule(w: Walk, loc: Located, role: string, index: number, typeCheck: (t: string) => string | undefined): ReceiveRule | undefined {
  const fields = entries(w, loc, RULE_KEYS);
  if (!fields) return undefined;
  const types = field(w, fields, loc, 'types', true);
  const tier = field(w, fields, loc, 'tier', true);
  const scope = field(w, fields, loc, 'scope', true);
  const handling = field(w, fields, loc, 'handling', false);
  const tlp = field(w, fields, loc, 'tlp', false);
  const rule: ReceiveRule = {
    role,
    index,
    types: (types && stringList(w, types, typeCheck)) ?? [],
    tier: (tier && enumValue(w, tier, 'tier', TIERS)) ?? 'public',
    scope: (scope && enumValue(w, scope, 'scope', SCOPES)) ?? 'direct',
    handling: handling ? ((stringList(w, handling, oneOf('handling code', HANDLING_CODES)) ?? []) as HandlingCode[]) : [...HANDLING_CODES],
    tlp: tlp ? ((stringList(w, tlp, oneOf('TLP label', TLP_LABELS)) ?? []) as TlpLabel[]) : [...TLP_LABELS],
  };
  return rule;
}

function enumValue<T extends string>(w: Walk, loc: Located, what: string, allowed: readonly T[]): T | undefined {
  const s = str(w, loc);
  if (s === undefined) return undefined;
  const problem = oneOf(what, allowed)(s);
  if (problem) {
    w.issues.add(loc.at, loc.path, problem);
    return undefined;
  }
  return s as T;
}

function readAgency(w: Walk, e: Entry, roles: readonly string[]): AgencyEntry | undefined {
  checkName(w, e, 'agency id', ', not "all"');
  const fields = entries(w, e, AGENCY_KEYS);
  if (!fields) return undefined;
  const agency: AgencyEntry = { id: e.key, name: '', country: '', roles: [] };
  const name = field(w, fields, e, 'name', true);
  if (name) agency.name = str(w, name) ?? '';
  const country = field(w, fields, e, 'country', true);
  const c = country && str(w, country);
  if (country && c !== undefined) {
    if (COUNTRY_RE.test(c)) agency.country = c;
    else w.issues.add(country.at, country.path, `invalid country "${c}" (expected an ICAO 3-letter code in uppercase, e.g. XAA)`);
  }
  const replicas = field(w, fields, e, 'replicas', false);
  if (replicas) {
    const n = isScalar(replicas.value) ? replicas.value.value : undefined;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 8) {
      if (n > 1) agency.replicas = n;
    } else w.issues.add(replicas.at, replicas.path, `invalid replicas ${describe(replicas.value)} (expected an integer from 1 to 8)`);
  }
  const roleList = field(w, fields, e, 'roles', true);
  if (roleList) {
    agency.roles =
      stringList(w, roleList, (r) => {
        if (roles.includes(r)) return undefined;
        const hint = closest(r, roles);
        return `unknown role "${r}" (roles: ${roles.join(', ') || 'none'}${hint ? `; did you mean "${hint}"?` : ''})`;
      }) ?? [];
  }
  return agency;
}

function readRetention(w: Walk, loc: Located, catalog: TypeCatalog, body: PolicyBody): void {
  const families = [...new Set(catalog.types().map((t) => catalog.familyOf(t)!))].sort();
  for (const e of entries(w, loc) ?? []) {
    if (e.key !== DEFAULT_KEY && !families.includes(e.key)) {
      const hint = closest(e.key, families);
      w.issues.add(e.at, e.path, `unknown family "${e.key}" (expected ${DEFAULT_KEY} or one of ${families.join(', ')}${hint ? `; did you mean "${hint}"?` : ''})`);
      continue;
    }
    const text = isScalar(e.value) && typeof e.value.value === 'string' ? e.value.value : undefined;
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms === undefined) {
      w.issues.add(e.at, e.path, `invalid duration ${describe(e.value)} (expected a whole number of days, hours or minutes: 3650d, 12h, 90m)`);
      continue;
    }
    if (e.key === DEFAULT_KEY) body.defaultRetentionMs = ms;
    else body.retention[e.key] = ms;
  }
}
