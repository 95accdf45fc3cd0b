import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';
import { LiaisonError } from '../errors.ts';
import { MESSAGE_CATALOGUE, PACKAGE } from './catalogue-list.ts';
import { liaisonOption, parseParagraphs, sensitivityTier } from './options.ts';

/** Files whose messages are infrastructure (no family, no sensitivities). */
const INFRA_FILES = new Set(['envelope.proto', 'options.proto']);
/** Files holding value types only (embedded in family messages). */
const VALUE_FILES = new Set(['common.proto']);

const FAMILY_NAME = /^[a-z]+$/;

/** A family message as found in the schemas. */
export interface FamilyMessage {
  type: Type;
  family: string;
  paragraphs: { refs: string[]; numbers: number[] };
}

function baseName(file: string | null): string {
  return file ? file.slice(file.lastIndexOf('/') + 1) : '';
}

function fail(message: string, details: Record<string, unknown>): never {
  throw new LiaisonError('ERR_SCHEMA_LOAD', message, details);
}

function walkTypes(ns: protobuf.NamespaceBase, out: Type[]): void {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type) out.push(obj);
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) walkTypes(obj, out);
  }
}

function shortName(type: Type): string {
  return type.fullName.slice(PACKAGE.length + 2);
}

/**
 * Check the Liaison schema rules and return the family messages: every top-level message of a family
 * file names a known family and the paragraphs it serves; every field of every Liaison message (family
 * messages and the value types they embed) carries a sensitivity; every catalogue type exists in its
 * family. Throws ERR_SCHEMA_LOAD naming the offending message or field.
 */
export function checkLiaisonRules(root: Root): FamilyMessage[] {
  const pkg = root.lookup(PACKAGE);
  if (!(pkg instanceof protobuf.Namespace)) fail(`no package ${PACKAGE} in the schemas`, {});
  const types: Type[] = [];
  walkTypes(pkg, types);
  const families: FamilyMessage[] = [];
  for (const type of types) {
    const file = baseName(type.filename);
    if (INFRA_FILES.has(file)) continue;
    const name = shortName(type);
    for (const field of type.fieldsArray) {
      if (!sensitivityTier(liaisonOption(field, 'sensitivity'))) {
        const fieldName = (field as typeof field & { protoName?: string }).protoName ?? field.name;
        fail(`${PACKAGE}.${name}.${fieldName} (${file}) has no (${PACKAGE}.sensitivity) option: every field must carry one`, {
          message: name,
          field: fieldName,
          file,
        });
      }
    }
    const family = liaisonOption(type, 'family');
    const topLevel = type.parent === pkg;
    if (family === undefined && (!topLevel || VALUE_FILES.has(file))) continue;
    if (family === undefined) {
      fail(`${PACKAGE}.${name} (${file}) has no (${PACKAGE}.family) option: every message of a family file needs one`, { message: name, file });
    }
    if (!topLevel) fail(`${PACKAGE}.${name} (${file}) is nested but has a family option: family messages are top-level`, { message: name, file });
    if (typeof family !== 'string' || !FAMILY_NAME.test(family) || !(family in MESSAGE_CATALOGUE)) {
      fail(`${PACKAGE}.${name} (${file}) names unknown family "${String(family)}"; families: ${Object.keys(MESSAGE_CATALOGUE).join(', ')}`, {
        message: name,
        family,
      });
    }
    const paragraphs = parseParagraphs(liaisonOption(type, 'paragraphs'));
    if (!paragraphs) {
      fail(`${PACKAGE}.${name} (${file}) needs a (${PACKAGE}.paragraphs) option like "16,12" or "13,9(c)"`, { message: name, file });
    }
    families.push({ type, family, paragraphs });
  }
  const byName = new Map(families.map((f) => [shortName(f.type), f]));
  for (const [family, names] of Object.entries(MESSAGE_CATALOGUE)) {
    for (const name of names) {
      const found = byName.get(name);
      if (!found) fail(`catalogue type ${PACKAGE}.${name} (family ${family}) is not defined by the schemas`, { message: name, family });
      if (found.family !== family) {
        fail(`${PACKAGE}.${name} has family "${found.family}" but the catalogue puts it in "${family}"`, { message: name, family: found.family });
      }
    }
  }
  return families;
}
