/**
 * Liaison schema runtime: loads the protobuf schemas under `proto/` with protobufjs reflection,
 * enforces the Liaison schema rules (family, paragraphs, a sensitivity on every field), converts JSON
 * bodies, encodes/decodes bodies and projects messages to a sensitivity tier.
 */
export { loadCatalog, DEFAULT_PROTO_DIR } from './load.ts';
export { fromJson, toJson } from './json.ts';
export { encodeBody, decodeBody } from './codec.ts';
export { project, fieldsAt, fieldsAboveTier, maxSensitivity } from './projection.ts';
export { MESSAGE_CATALOGUE, PACKAGE, TYPE_URL_PREFIX } from './catalogue-list.ts';
export type { Catalog, MessageInfo, FieldInfo, EnvelopeTypes, BodyMessage } from './model.ts';
