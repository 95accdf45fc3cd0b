import { fieldsAt, type MessageInfo } from '../sdk/schema/index.ts';
import { TIERS, tierRank, type Tier } from '../sdk/tier.ts';
import { countryCode, documentKey, imoKey, mmsiKey, nameKey, phoneKey, textKey, vesselFlagKey } from './normalise.ts';

/** An EntityKind enum name of common.proto, as CorrelationAlert.matched_kind carries it. */
export type EntityKindName =
  | 'ENTITY_KIND_PERSON'
  | 'ENTITY_KIND_ORGANISATION'
  | 'ENTITY_KIND_PHONE'
  | 'ENTITY_KIND_VEHICLE'
  | 'ENTITY_KIND_VESSEL'
  | 'ENTITY_KIND_ACCOUNT'
  | 'ENTITY_KIND_ADDRESS'
  | 'ENTITY_KIND_ONLINE_ACCOUNT'
  | 'ENTITY_KIND_DOCUMENT';

/** A value the centre correlates, found in one message. */
export interface ExtractedEntity {
  /** Correlation key, `<namespace>:<normal form>` (e.g. `doc:XA1234567`, `imo:9123456`). */
  key: string;
  kind: EntityKindName;
  /** Dotted field path in the message (`documentNumber`, `vessel.imoNumber`, `entities.value`). */
  field: string;
  /** The normal form (what an alert may show, if the tiers allow). */
  value: string;
  /** Effective sensitivity of the field in its message type (the maximum along its path). */
  tier: Tier;
}

/** A place or route named in a message: context that strengthens a link, never a link by itself. */
export interface ExtractedContext {
  /** `place:<normal form>` or `route:<origin>><destination>`. */
  key: string;
  field: string;
  tier: Tier;
}

/** What the centre takes from one message. */
export interface Extraction {
  entities: ExtractedEntity[];
  context: ExtractedContext[];
}

/** Confidence (0–100) of a link on a key namespace: identifiers high, names low. */
export const KEY_CONFIDENCE: Readonly<Record<string, number>> = {
  imo: 95,
  mmsi: 95,
  vesselflag: 85,
  doc: 90,
  phone: 85,
  account: 85,
  callsign: 80,
  pid: 80,
  online: 75,
  vehicle: 70,
  vessel: 55,
  org: 50,
  address: 50,
  name: 40,
};

const tierCache = new WeakMap<MessageInfo, Map<string, Tier>>();

/** The effective sensitivity of a dotted field path of a type (`special` when the path is unknown). */
export function fieldTier(info: MessageInfo, path: string): Tier {
  let map = tierCache.get(info);
  if (!map) {
    map = new Map();
    for (const t of [...TIERS].reverse()) for (const p of fieldsAt(info, t)) map.set(p, t);
    tierCache.set(info, map);
  }
  return map.get(path) ?? 'special';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const alnum = (raw: string): string | undefined => {
  const s = raw.normalize('NFKC').toUpperCase().replace(/[^A-Z0-9]/g, '');
  return s.length >= 3 ? s : undefined;
};

const ENTITY_RULES: Record<string, (v: string) => { key: string; kind: EntityKindName; value: string } | undefined> = {
  ENTITY_KIND_PHONE: (v) => wrap('phone', 'ENTITY_KIND_PHONE', phoneKey(v)),
  ENTITY_KIND_DOCUMENT: (v) => wrap('doc', 'ENTITY_KIND_DOCUMENT', documentKey(v)),
  ENTITY_KIND_VESSEL: (v) => (imoKey(v) ? wrap('imo', 'ENTITY_KIND_VESSEL', imoKey(v)) : wrap('vessel', 'ENTITY_KIND_VESSEL', textKey(v))),
  ENTITY_KIND_PERSON: (v) => wrap('name', 'ENTITY_KIND_PERSON', nameKey(v)),
  ENTITY_KIND_ORGANISATION: (v) => wrap('org', 'ENTITY_KIND_ORGANISATION', textKey(v)),
  ENTITY_KIND_VEHICLE: (v) => wrap('vehicle', 'ENTITY_KIND_VEHICLE', alnum(v)),
  ENTITY_KIND_ACCOUNT: (v) => wrap('account', 'ENTITY_KIND_ACCOUNT', alnum(v)),
  ENTITY_KIND_ADDRESS: (v) => wrap('address', 'ENTITY_KIND_ADDRESS', textKey(v)),
  ENTITY_KIND_ONLINE_ACCOUNT: (v) => wrap('online', 'ENTITY_KIND_ONLINE_ACCOUNT', v.normalize('NFKC').trim().toLowerCase() || undefined),
};

function wrap(ns: string, kind: EntityKindName, value: string | undefined) {
  return value ? { key: `${ns}:${value}`, kind, value } : undefined;
}

function identifierRule(kind: string, v: string) {
  if (['IDENTIFIER_KIND_PASSPORT', 'IDENTIFIER_KIND_NATIONAL_ID', 'IDENTIFIER_KIND_RESIDENCE_PERMIT'].includes(kind)) return wrap('doc', 'ENTITY_KIND_DOCUMENT', documentKey(v));
  if (kind === 'IDENTIFIER_KIND_PHONE') return wrap('phone', 'ENTITY_KIND_PHONE', phoneKey(v));
  const t = textKey(v);
  return t ? { key: `pid:${kind.replace('IDENTIFIER_KIND_', '')}:${t}`, kind: 'ENTITY_KIND_PERSON' as const, value: t } : undefined;
}

const PLACE_FIELDS = ['place', 'location', 'checkLocation'];

/**
 * Extract the correlatable entities (document numbers, person identifiers and names, vessels by IMO
 * number, MMSI, call sign and name, phones, accounts, vehicles, organisations, addresses) and the
 * context (places, routes) of one message body, as the centre received it (JSON of its copy). A
 * vessel is known by IMO number, MMSI, call sign, name, and name under its flag.
 * Walks the body generically, so every type carrying these shapes (Entity, PersonIdentifier,
 * Person, Vessel, Route, `document_number`) is covered. One entry per key: the lowest-tier field wins.
 */
export function extractEntities(info: MessageInfo, body: Obj): Extraction {
  const entities = new Map<string, ExtractedEntity>();
  const context = new Map<string, ExtractedContext>();
  const addEntity = (field: string, found: { key: string; kind: EntityKindName; value: string } | undefined) => {
    if (!found) return;
    const tier = fieldTier(info, field);
    const known = entities.get(found.key);
    if (!known || tierRank(tier) < tierRank(known.tier)) entities.set(found.key, { ...found, field, tier });
  };
  const addContext = (field: string, key: string | undefined) => {
    if (!key) return;
    const tier = fieldTier(info, field);
    const known = context.get(key);
    if (!known || tierRank(tier) < tierRank(known.tier)) context.set(key, { key, field, tier });
  };

  const visit = (o: Obj, prefix: string, parent: string): void => {
    if (typeof o.documentNumber === 'string') addEntity(`${prefix}documentNumber`, wrap('doc', 'ENTITY_KIND_DOCUMENT', documentKey(o.documentNumber)));
    if (parent === 'vessel') {
      addEntity(`${prefix}imoNumber`, wrap('imo', 'ENTITY_KIND_VESSEL', imoKey(str(o.imoNumber))));
      addEntity(`${prefix}mmsi`, wrap('mmsi', 'ENTITY_KIND_VESSEL', mmsiKey(str(o.mmsi))));
      addEntity(`${prefix}callSign`, wrap('callsign', 'ENTITY_KIND_VESSEL', alnum(str(o.callSign))));
      addEntity(`${prefix}name`, wrap('vessel', 'ENTITY_KIND_VESSEL', textKey(str(o.name))));
      const flagTier = fieldTier(info, `${prefix}flagState`);
      addEntity(tierRank(flagTier) > tierRank(fieldTier(info, `${prefix}name`)) ? `${prefix}flagState` : `${prefix}name`, wrap('vesselflag', 'ENTITY_KIND_VESSEL', vesselFlagKey(str(o.name), o.flagState)));
    }
    const kind = str(o.kind);
    if (kind.startsWith('ENTITY_KIND_') && typeof o.value === 'string') addEntity(`${prefix}value`, ENTITY_RULES[kind]?.(o.value));
    if (kind.startsWith('IDENTIFIER_KIND_') && typeof o.value === 'string') addEntity(`${prefix}value`, identifierRule(kind, o.value));
    if (parent === 'name' || parent === 'aliases') {
      const full = str(o.fullName) || [str(o.givenNames), str(o.familyName)].filter(Boolean).join(' ');
      addEntity(`${prefix}${o.fullName ? 'fullName' : 'familyName'}`, wrap('name', 'ENTITY_KIND_PERSON', nameKey(full)));
    }
    for (const f of PLACE_FIELDS) if (typeof o[f] === 'string') addContext(`${prefix}${f}`, placeKey(o[f] as string));
    if (Array.isArray(o.operationalArea)) for (const a of o.operationalArea) addContext(`${prefix}operationalArea`, placeKey(str(a)));
    if (parent === 'route' || parent === 'routes') addContext(`${prefix}origin`, routeKey(o));
    for (const [k, v] of Object.entries(o)) {
      if (isObj(v)) visit(v, `${prefix}${k}.`, k);
      else if (Array.isArray(v)) for (const item of v) if (isObj(item)) visit(item, `${prefix}${k}.`, k);
    }
  };
  visit(body, '', '');
  return { entities: [...entities.values()], context: [...context.values()] };
}

function placeKey(raw: string): string | undefined {
  const t = textKey(raw);
  return t ? `place:${t}` : undefined;
}

/** `route:<origin>><destination>` of a Route object, when both ends are country codes. */
export function routeKey(route: Obj): string | undefined {
  const o = countryCode(route.origin);
  const d = countryCode(route.destination);
  return o && d ? `route:${o}>${d}` : undefined;
}
