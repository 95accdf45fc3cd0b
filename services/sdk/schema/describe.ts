import protobuf from 'protobufjs';
import type { Enum, Field, Type } from 'protobufjs';
import type { Tier } from '../tier.ts';
import { PACKAGE } from './catalogue-list.ts';
import type { Catalog } from './model.ts';
import { fieldTier, isLiaisonType } from './nodes.ts';

/**
 * The message catalogue as people read it: every family type with its paragraphs of resolution 6/3,
 * its meaning and each field's sensitivity and meaning, plus the value types and enums they use —
 * all taken from the `.proto` files and their comments (the schemas are the one source; the
 * generated `docs/messages.md` and `liaison schema list|show` both render this).
 */
export interface CatalogueDescription {
  readonly families: readonly { readonly family: string; readonly types: readonly string[] }[];
  readonly types: readonly TypeDescription[];
  /** Liaison message types used inside family types (Person, Vessel, …), by short name. */
  readonly valueTypes: readonly TypeDescription[];
  readonly enums: readonly EnumDescription[];
}

/** One message type: a family type (with family and paragraphs) or a value type. */
export interface TypeDescription {
  readonly name: string;
  readonly family?: string;
  readonly paragraphs?: readonly string[];
  readonly meaning: string;
  readonly fields: readonly FieldDescription[];
}

/** One field: its type as written for people (`string`, `Person`, `repeated DocumentStatus`), its tier and meaning. */
export interface FieldDescription {
  readonly name: string;
  readonly number: number;
  readonly type: string;
  readonly sensitivity: Tier;
  readonly meaning: string;
}

/** An enum with each value's meaning. */
export interface EnumDescription {
  readonly name: string;
  readonly meaning: string;
  readonly values: readonly { readonly name: string; readonly number: number; readonly meaning: string }[];
}

const LOCAL = `.${PACKAGE}.`;

/** A type name for people: `Person` for Liaison types, `google.protobuf.Timestamp` → `Timestamp`. */
function shortName(fullName: string): string {
  if (fullName.startsWith(LOCAL)) return fullName.slice(LOCAL.length);
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

function oneLine(comment: string | null | undefined): string {
  return (comment ?? '').replace(/\s+/g, ' ').trim();
}

function fieldType(f: Field): string {
  const base = f.resolvedType ? shortName(f.resolvedType.fullName) : f.type;
  return f.repeated ? `repeated ${base}` : base;
}

function describeField(f: Field): FieldDescription {
  return { name: f.name, number: f.id, type: fieldType(f), sensitivity: fieldTier(f), meaning: oneLine(f.comment) };
}

function describeType(t: Type, extra: { family?: string; paragraphs?: readonly string[] } = {}): TypeDescription {
  return { name: shortName(t.fullName), ...extra, meaning: oneLine(t.comment), fields: t.fieldsArray.map(describeField) };
}

function describeEnum(e: Enum): EnumDescription {
  return {
    name: shortName(e.fullName),
    meaning: oneLine(e.comment),
    values: Object.entries(e.values).map(([name, number]) => ({ name, number, meaning: oneLine(e.comments[name]) })),
  };
}

/** The value types and enums reachable from the family types, in first-use order. */
function reachable(roots: readonly Type[]): { types: Type[]; enums: Enum[] } {
  const types: Type[] = [];
  const enums: Enum[] = [];
  const seen = new Set<string>(roots.map((t) => t.fullName));
  const visit = (t: Type): void => {
    for (const f of t.fieldsArray) {
      const r = f.resolve().resolvedType;
      if (!r || seen.has(r.fullName) || !r.fullName.startsWith(LOCAL)) continue;
      seen.add(r.fullName);
      if (r instanceof protobuf.Enum) enums.push(r);
      else if (r instanceof protobuf.Type && isLiaisonType(r)) {
        types.push(r);
        visit(r);
      }
    }
  };
  for (const t of roots) visit(t);
  return { types, enums };
}

/** Describe every family type of `catalog` (comments are read by the loader with the schemas). */
export function describeCatalogue(catalog: Catalog): CatalogueDescription {
  const families = [...catalog.families].map(([family, types]) => ({ family, types: [...types] }));
  const infos = families.flatMap((f) => f.types.map((name) => catalog.get(name)));
  const { types, enums } = reachable(infos.map((i) => i.type));
  return {
    families,
    types: infos.map((i) => describeType(i.type, { family: i.family, paragraphs: i.paragraphRefs })),
    valueTypes: types.map((t) => describeType(t)),
    enums: enums.map(describeEnum),
  };
}
