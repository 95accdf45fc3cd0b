import type { Catalog } from '../sdk/schema/model.ts';
import { catalogueSchemas, type JsonSchema } from './json-schema.ts';
import { PROBLEM_MEDIA_TYPE } from './problem.ts';
import { SCOPES } from './tokens.ts';

/** Families whose types the SDK sends itself (retractions and their receipts): no send route. */
const SDK_ONLY_FAMILIES = new Set(['control']);

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** The gateway's own answer shapes (the message bodies come from the catalogue). */
const GATEWAY_SCHEMAS: Record<string, JsonSchema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details, with the Liaison error code and (for a policy refusal) the deciding rule.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', pattern: '^ERR_[A-Z_]+$' },
      rule: { type: 'string' },
      field: { type: 'string' },
    },
  },
  SendReceipt: {
    type: 'object',
    required: ['id', 'type', 'copies'],
    properties: {
      id: { type: 'string', description: 'The message id (UUIDv7); with this agency as sender it names the message.' },
      type: { type: 'string' },
      copies: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            tier: { type: 'string' },
            recipients: { type: 'array', items: { type: 'string' } },
            stream: { type: 'string' },
            seq: { type: 'integer' },
            duplicate: { type: 'boolean' },
          },
        },
      },
    },
  },
  InboxMessage: {
    type: 'object',
    required: ['sender', 'id', 'type', 'tier', 'body', 'delivery', 'ack'],
    properties: {
      sender: { type: 'string' },
      id: { type: 'string' },
      type: { type: 'string' },
      family: { type: 'string' },
      tier: { type: 'string' },
      recipient: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      handling: { type: 'string' },
      tlp: { type: 'string' },
      caseRef: { type: 'string' },
      correlationId: { type: 'string' },
      causationId: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
      policyHash: { type: 'string' },
      body: { type: 'object', description: 'The message body at this copy’s tier (its schema is the one of `type`).' },
      delivery: { type: 'integer', minimum: 1, description: 'How many times the gateway handed this message to a reader; above 1 it may have been seen before.' },
      ack: { type: 'string', description: 'The path to POST once the message is applied.' },
    },
  },
  Inbox: { type: 'object', required: ['messages'], properties: { messages: { type: 'array', items: ref('InboxMessage') } } },
  Reply: {
    type: 'object',
    description: 'A verified reply, signed by the agency that served the request and bound to it by its hash.',
    properties: { id: { type: 'string' }, from: { type: 'string' }, type: { type: 'string' }, tier: { type: 'string' }, requestHash: { type: 'string' }, body: { type: 'object' } },
  },
  RetractionRecord: { type: 'object', description: 'The exchange’s record of a retraction, with what was sent to each recipient.' },
  PolicyDecision: { type: 'object', description: 'The decision, the deciding rule and the tier.', properties: { allowed: { type: 'boolean' }, rule: { type: 'string' }, reason: { type: 'string' }, code: { type: 'string' }, tier: { type: 'string' } } },
};

const problems = (...statuses: number[]): Record<string, JsonSchema> =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: 'a problem (RFC 9457)', content: { [PROBLEM_MEDIA_TYPE]: { schema: ref('Problem') } } }]));

const json = (schema: JsonSchema, description: string): JsonSchema => ({ description, content: { 'application/json': { schema } } });

const query = (name: string, description: string, schema: JsonSchema = { type: 'string' }): JsonSchema => ({ name, in: 'query', required: false, description, schema });

const SEND_PARAMETERS = [
  query('to', 'recipient agency id (default: a broadcast to every agency the policy lets receive it)'),
  query('handling', 'SIENA handling code', { type: 'string', enum: ['H0', 'H1', 'H2', 'H3'] }),
  query('tlp', 'Traffic Light Protocol label', { type: 'string', enum: ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'] }),
  query('caseRef', 'the sender’s case reference'),
  query('correlationId', 'correlation id'),
  query('causationId', 'the id of the message this one answers'),
  query('expiresAt', 'when the message expires (ISO 8601)', { type: 'string', format: 'date-time' }),
  { name: 'Idempotency-Key', in: 'header', required: false, description: 'the same key never sends twice: a replay returns the first answer', schema: { type: 'string', maxLength: 200 } },
];

function sendPath(type: string, family: string, description: string): JsonSchema {
  return {
    post: {
      tags: [family],
      operationId: `send${type}`,
      summary: `send a ${type}`,
      description: `${description}\n\nValidated against the schema, sealed, projected per tier, signed and sent. Scope: send.`,
      parameters: SEND_PARAMETERS,
      requestBody: { required: true, content: { 'application/json': { schema: ref(type) } } },
      responses: { '201': json(ref('SendReceipt'), 'sent (or, for a replayed Idempotency-Key, sent before: header Idempotent-Replayed: true)'), ...problems(400, 401, 403, 404, 413, 422, 503) },
    },
  };
}

function requestPath(tag: string, operationId: string, summary: string, bodyType: string, scope: string): JsonSchema {
  return {
    post: {
      tags: [tag],
      operationId,
      summary,
      description: `The body is a ${bodyType}; the answer is the serving agency’s signed, verified reply. Scope: ${scope}.`,
      requestBody: { required: true, content: { 'application/json': { schema: ref(bodyType) } } },
      responses: { '200': json(ref('Reply'), 'the verified reply'), ...problems(400, 401, 403, 404, 422, 502, 504) },
    },
  };
}

const ID = (name: string, description: string): JsonSchema => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

function fixedPaths(): Record<string, JsonSchema> {
  return {
    '/v1/messages': {
      get: {
        tags: ['inbox'],
        operationId: 'receive',
        summary: 'the agency’s verified messages: a long poll (JSON) or, with Accept: text/event-stream, a server-sent-event stream',
        description:
          'Each message is held for the caller until it is acknowledged (POST its `ack` path). Unacknowledged messages go back to the queue when the stream closes, or when a long poll’s lease expires, and are delivered again (`delivery` counts). Open streams plus long polls are bounded per token and in all: one more gets 429 ERR_GATEWAY_BUSY with Retry-After. Scope: receive.',
        parameters: [query('wait', 'long poll: seconds to wait for a first message (0–60, default 20)', { type: 'integer', minimum: 0, maximum: 60 }), query('max', 'most messages in one answer, or held un-acknowledged by one stream (1–256, default 16)', { type: 'integer', minimum: 1, maximum: 256 })],
        responses: { '200': { description: 'messages', content: { 'application/json': { schema: ref('Inbox') }, 'text/event-stream': { schema: { type: 'string', description: 'events `message`, data: an InboxMessage' } } } }, ...problems(400, 401, 403, 429) },
      },
    },
    '/v1/messages/{sender}/{id}/ack': {
      post: {
        tags: ['inbox'],
        operationId: 'ack',
        summary: 'acknowledge a received message: a message is (sender, id)',
        description: 'The gateway marks it handled and acknowledges it to the exchange; it is not delivered again. Scope: receive.',
        parameters: [ID('sender', 'the sending agency'), ID('id', 'the message id')],
        responses: { '204': { description: 'acknowledged' }, ...problems(401, 403, 404) },
      },
    },
    '/v1/checks/document': requestPath('checks', 'checkDocument', 'check a travel document against the registry', 'DocumentCheckRequest', 'check'),
    '/v1/checks/person': requestPath('checks', 'checkPerson', 'check a person against the registry’s alerts', 'PersonCheckRequest', 'check'),
    '/v1/cases/query': requestPath('cases', 'queryCases', 'query the case registry (cases this agency is a party to)', 'CaseQuery', 'check'),
    '/v1/sent/{id}/retract': {
      post: {
        tags: ['retraction'],
        operationId: 'retract',
        summary: 'retract a message this agency sent: deleted from the exchange, every recipient told',
        description: 'Scope: retract.',
        parameters: [ID('id', 'the id of a message this agency sent')],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } }, additionalProperties: false } } } },
        responses: { '200': json(ref('RetractionRecord'), 'retracted'), ...problems(400, 401, 403, 404) },
      },
      get: {
        tags: ['retraction'],
        operationId: 'retractionStatus',
        summary: 'the retraction of a message this agency sent, with who has acknowledged it',
        description: 'Scope: retract.',
        parameters: [ID('id', 'the id of a message this agency sent')],
        responses: { '200': json(ref('RetractionRecord'), 'the retraction record'), ...problems(401, 403, 404) },
      },
    },
    '/v1/sent/{id}/correct': {
      post: {
        tags: ['retraction'],
        operationId: 'correct',
        summary: 'correct a message this agency sent: the corrected body goes out as a new message, the original is retracted',
        description: 'Scope: retract.',
        parameters: [ID('id', 'the id of a message this agency sent')],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['body'], properties: { body: { type: 'object' }, reason: { type: 'string' } }, additionalProperties: false } } } },
        responses: { '200': json(ref('RetractionRecord'), 'corrected'), ...problems(400, 401, 403, 404, 422) },
      },
    },
    '/v1/policy/why': {
      get: {
        tags: ['policy'],
        operationId: 'policyWhy',
        summary: 'may this agency send (or receive) a type, by which rule, at which tier',
        description: 'Give `send` (and optionally `to`) or `receive` (and optionally `from`). Scope: policy.',
        parameters: [query('send', 'a message type to send'), query('to', 'a recipient agency'), query('receive', 'a message type to receive'), query('from', 'a sending agency')],
        responses: { '200': json(ref('PolicyDecision'), 'the decision'), ...problems(400, 401, 403, 404) },
      },
    },
  };
}

/**
 * The gateway's OpenAPI 3.1 document, generated from the schema catalogue: one send route per message
 * type with the type's JSON Schema as its body, the inbox, checks, case queries, retraction and the policy.
 */
export function openApiDocument(catalog: Catalog, o: { agency: string; version: string }): Record<string, unknown> {
  const paths: Record<string, JsonSchema> = {};
  for (const info of catalog.types.values()) {
    if (SDK_ONLY_FAMILIES.has(info.family)) continue;
    paths[`/v1/messages/${info.name}`] = sendPath(info.name, info.family, (info.type.comment ?? '').replace(/\s+/g, ' ').trim() || info.name);
  }
  Object.assign(paths, fixedPaths());
  return {
    openapi: '3.1.0',
    info: {
      title: `Liaison HTTP gateway (${o.agency})`,
      version: o.version,
      description: `Plain HTTP for ${o.agency}'s systems: the gateway holds the agency's keys, signs, projects and sends, verifies what arrives, and enforces the federation policy. Errors are RFC 9457 problem+json with the Liaison error code. Token scopes: ${SCOPES.join(', ')}.`,
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token from `liaison gateway token create`' } },
      schemas: { ...catalogueSchemas(catalog), ...GATEWAY_SCHEMAS },
    },
  };
}
