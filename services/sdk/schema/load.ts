import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';
import { LiaisonError, asLiaisonError } from '../errors.ts';
import { PACKAGE, TYPE_URL_PREFIX } from './catalogue-list.ts';
import type { Catalog, EnvelopeTypes, FieldInfo, MessageInfo } from './model.ts';
import { fieldTier, finishNodes, typeNode, type TypeNode } from './nodes.ts';
import { checkLiaisonRules, type FamilyMessage } from './rules.ts';

/** The repository's `proto/` directory. */
export const DEFAULT_PROTO_DIR = resolve(import.meta.dirname, '../../../proto');

const PROTOBUFJS_DIR = dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'));

function protoFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...protoFiles(path, base));
    else if (entry.name.endsWith('.proto')) out.push(relative(base, path));
  }
  return out;
}

function parseRoot(protoDir: string): Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return join(PROTOBUFJS_DIR, target.replace(/\.proto$/, '.json'));
    return isAbsolute(target) ? target : join(protoDir, target);
  };
  let files: string[];
  try {
    files = protoFiles(protoDir);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_SCHEMA_LOAD', `cannot read schema directory ${protoDir}`);
  }
  if (files.length === 0) throw new LiaisonError('ERR_SCHEMA_LOAD', `no .proto files under ${protoDir}`, { dir: protoDir });
  try {
    // Comments too (`//` as well as `/** */`): they are the catalogue's meanings (describe.ts).
    root.loadSync(files, { keepCase: false, alternateCommentMode: true });
    root.resolveAll();
  } catch (err) {
    throw asLiaisonError(err, 'ERR_SCHEMA_LOAD', `cannot parse the schemas under ${protoDir}`);
  }
  return root;
}

function envelopeTypes(root: Root): EnvelopeTypes {
  const get = (name: string): Type => {
    const t = root.lookup(`${PACKAGE}.${name}`);
    if (!(t instanceof protobuf.Type)) throw new LiaisonError('ERR_SCHEMA_LOAD', `envelope.proto does not define ${PACKAGE}.${name}`, { message: name });
    return t;
  };
  return { Envelope: get('Envelope'), Signed: get('Signed'), Header: get('Header') };
}

function fieldInfo(node: TypeNode): FieldInfo[] {
  return node.fields.map((f) => ({
    name: f.protoName,
    jsonName: f.name,
    number: f.field.id,
    sensitivity: fieldTier(f.field),
    repeated: f.repeated,
    ...(f.kind === 'message' || f.kind === 'timestamp' ? { messageType: f.field.resolvedType!.fullName.slice(1) } : {}),
    ...(f.kind === 'enum' ? { enumType: f.field.resolvedType!.fullName.slice(1) } : {}),
  }));
}

function messageInfo(m: FamilyMessage, node: TypeNode): MessageInfo {
  return {
    name: m.type.name,
    fullName: m.type.fullName.slice(1),
    family: m.family,
    paragraphs: m.paragraphs.numbers,
    paragraphRefs: m.paragraphs.refs,
    type: m.type,
    fields: fieldInfo(node),
    node,
  };
}

/** The short name a type reference denotes, or undefined if it cannot name a Liaison type. */
function shortNameOf(ref: string): string | undefined {
  let name = ref.startsWith(TYPE_URL_PREFIX) ? ref.slice(TYPE_URL_PREFIX.length) : ref;
  if (name.startsWith('.')) name = name.slice(1);
  if (name.startsWith(`${PACKAGE}.`)) name = name.slice(PACKAGE.length + 1);
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : undefined;
}

/**
 * Load every .proto file under `protoDir` with protobufjs (runtime reflection), check the Liaison
 * schema rules and precompute what encoding, JSON conversion and projection need. Synchronous; each
 * call builds a fresh catalogue (no module-level cache). Throws ERR_SCHEMA_LOAD naming the offending
 * file, message or field.
 */
export function loadCatalog(protoDir: string = DEFAULT_PROTO_DIR): Catalog {
  const root = parseRoot(protoDir);
  const envelope = envelopeTypes(root);
  const familyMessages = checkLiaisonRules(root);
  const nodes = new Map<Type, TypeNode>();
  const built = familyMessages.map((m) => ({ m, node: typeNode(m.type, nodes) }));
  finishNodes(nodes.values());
  const types = new Map<string, MessageInfo>();
  const families = new Map<string, string[]>();
  for (const { m, node } of built) {
    const info = messageInfo(m, node);
    types.set(info.name, info);
    families.set(info.family, [...(families.get(info.family) ?? []), info.name]);
  }
  const get = (name: string): MessageInfo => {
    const short = typeof name === 'string' ? shortNameOf(name) : undefined;
    const info = short === undefined ? undefined : types.get(short);
    if (!info) throw new LiaisonError('ERR_TYPE_UNKNOWN', `unknown message type "${String(name)}"`, { type: name });
    return info;
  };
  return {
    root,
    types,
    families,
    get,
    typeUrl: (name) => TYPE_URL_PREFIX + get(name).fullName,
    envelopeTypes: envelope,
  };
}
