import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { countryCode } from './normalise.ts';
import { practiceOf, type PracticeEntry } from './practices.ts';

/**
 * What one received message contributes to the strategic picture: aggregate dimensions only (no
 * identifiers, no names, no free text but modus operandi items and a PracticeNote's public fields). Kept per message in the
 * correlation bucket, so reports can be rebuilt for any period after a restart.
 */
export interface MessageFacts {
  messageId: string;
  type: string;
  agency: string;
  /** Event time (observed/reported/effective/checked), else the message's creation time (ms). */
  at: number;
  /** `ORIGIN>TRANSIT…>DESTINATION` of each route named. */
  routes: string[];
  nationalities: string[];
  documentTypes: string[];
  /** Modus operandi items, lower case; document fraud as `document fraud: counterfeit`. */
  modusOperandi: string[];
  migrants: number;
  children: number;
  /** Number of distinct correlatable values the message held. */
  entities: number;
  /** Hashes of those values ({@link entityHash}): where its occurrences are, should it be retracted. */
  entityHashes?: string[];
  /** Set when its sender retracted it: its occurrences are gone and reports leave it out. */
  retracted?: RetractedMark;
  /** For a PracticeNote: the good practice, for the reports' catalogue (public fields only). */
  practice?: PracticeEntry;
}

/** How a message's facts record its retraction. */
export interface RetractedMark {
  /** When the centre applied the retraction (ms, the centre's clock). */
  at: number;
  /** Header id of the Retraction. */
  retractionId: string;
  reason: string;
  /** The correction's id, when the original was corrected. */
  replacedBy?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const TIME_FIELDS = ['observedAt', 'reportedAt', 'effectiveAt', 'checkedAt'];

function routeLabel(r: Obj): string | undefined {
  const o = countryCode(r.origin);
  const d = countryCode(r.destination);
  if (!o || !d) return undefined;
  const transit = Array.isArray(r.transit) ? r.transit.map(countryCode).filter((c): c is string => !!c) : [];
  return [o, ...transit, d].join('>');
}

/** Extract the strategic facts of a message (its body as the centre received it). */
export function extractFacts(msg: ReceivedMessage, entities: number): MessageFacts {
  const b = msg.body as Obj;
  const time = TIME_FIELDS.map((f) => (typeof b[f] === 'string' ? Date.parse(b[f] as string) : NaN)).find((t) => Number.isFinite(t));
  const routes = new Set<string>();
  const nationalities = new Set<string>();
  const documentTypes = new Set<string>();
  const mo = new Set<string>();
  const visit = (o: Obj, parent: string): void => {
    if (parent === 'route' || parent === 'routes') {
      const r = routeLabel(o);
      if (r) routes.add(r);
    }
    if (o.kind === 'ENTITY_KIND_PERSON' && countryCode(o.country)) nationalities.add(countryCode(o.country)!);
    if (Array.isArray(o.nationalities)) for (const n of o.nationalities) if (countryCode(n)) nationalities.add(countryCode(n)!);
    if (countryCode(o.holderNationality)) nationalities.add(countryCode(o.holderNationality)!);
    if (typeof o.documentType === 'string') documentTypes.add(o.documentType.replace('DOCUMENT_TYPE_', ''));
    if (typeof o.fraudKind === 'string' && o.fraudKind !== 'FRAUD_KIND_UNSPECIFIED') mo.add(`document fraud: ${o.fraudKind.replace('FRAUD_KIND_', '').toLowerCase().replace(/_/g, ' ')}`);
    if (parent === 'vessel' && typeof o.kind === 'string' && o.kind.trim()) mo.add(`vessel: ${o.kind.trim().toLowerCase()}`);
    if (Array.isArray(o.modusOperandi)) for (const m of o.modusOperandi) if (typeof m === 'string' && m.trim()) mo.add(m.trim().toLowerCase().replace(/\s+/g, ' '));
    for (const [k, v] of Object.entries(o)) {
      if (isObj(v)) visit(v, k);
      else if (Array.isArray(v)) for (const item of v) if (isObj(item)) visit(item, k);
    }
  };
  visit(b, '');
  return {
    messageId: msg.header.id,
    type: msg.type,
    agency: msg.header.sender,
    at: time ?? msg.header.createdAt.getTime(),
    routes: [...routes],
    nationalities: [...nationalities],
    documentTypes: [...documentTypes],
    modusOperandi: [...mo],
    migrants: Number(b.migrantsCount ?? 0) || 0,
    children: Number(b.childrenCount ?? 0) || 0,
    entities,
    ...(msg.type === 'PracticeNote' ? { practice: practiceOf(b, msg.header.sender, msg.header.createdAt.getTime()) } : {}),
  };
}
