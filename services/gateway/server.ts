import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { LiaisonClient } from '../sdk/client/client.ts';
import { LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { factsOf, type GatewayContext, type RouteConfig } from './context.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { IdempotencyLog } from './idempotency.ts';
import { Inbox } from './inbox.ts';
import { openApiDocument } from './openapi.ts';
import { inboxRoutes } from './routes/inbox.ts';
import { policyRoutes } from './routes/policy.ts';
import { referenceRoutes } from './routes/reference.ts';
import { requestRoutes } from './routes/requests.ts';
import { retractionRoutes } from './routes/retraction.ts';
import { sendRoutes } from './routes/send.ts';
import { DEFAULT_BUSY_RETRY_AFTER_S, DEFAULT_MAX_READERS, DEFAULT_MAX_READERS_PER_TOKEN, ReaderSlots } from './readers.ts';
import { tokenFileReloader, TokenVerifier } from './tokens.ts';

/** The largest request body accepted by default (bytes): the exchange's usual NATS max payload. */
export const DEFAULT_BODY_LIMIT = 1_048_576;
/** How long a long poll's messages stay leased to it, un-acknowledged, before they go to the next reader. */
export const DEFAULT_LEASE_MS = 30_000;
/** Messages each consumer holds for HTTP readers (the SDK's `maxInFlight`); the rest wait in JetStream. */
export const DEFAULT_HELD_PER_CONSUMER = 64;

/** How to run a gateway. */
export interface GatewayOptions {
  /** The agency's connected client: the gateway consumes with it and closes it when it stops. */
  client: LiaisonClient;
  /** The agency directory: its API tokens and idempotency keys are kept there. */
  agencyDir: string;
  logger: Logger;
  /** Default 127.0.0.1; anything but loopback needs `tls` and at least one token. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  bodyLimit?: number;
  leaseMs?: number;
  heldPerConsumer?: number;
  /** Open event streams plus long polls one API token may hold (default {@link DEFAULT_MAX_READERS_PER_TOKEN}); beyond it ERR_GATEWAY_BUSY (429). */
  maxReadersPerToken?: number;
  /** Open event streams plus long polls in all (default {@link DEFAULT_MAX_READERS}); beyond it ERR_GATEWAY_BUSY (429). */
  maxReaders?: number;
  /** The Retry-After seconds of a busy answer (default {@link DEFAULT_BUSY_RETRY_AFTER_S}). */
  busyRetryAfterS?: number;
  /** The version shown in the OpenAPI document. */
  version?: string;
}

/** A running gateway. */
export interface Gateway {
  url: string;
  app: FastifyInstance;
  inbox: Inbox;
  /** Its open event streams and long polls, and their bounds. */
  readers: ReaderSlots;
  /** Stop serving and close the client; un-acknowledged messages stay in JetStream (delivered again on the next start). */
  close(): Promise<void>;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

function checkExposure(host: string, tls: GatewayOptions['tls'], tokens: TokenVerifier, agencyDir: string): void {
  if (tokens.size === 0) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `no API tokens for this gateway: make one with \`liaison gateway token create --as ${agencyDir} --scopes send,receive,check\``);
  }
  if (!isLoopback(host) && !tls) {
    throw new LiaisonError('ERR_TLS', `the gateway listens on ${host}, beyond loopback: give --tls-cert and --tls-key (plain HTTP only on 127.0.0.1)`, { host });
  }
}

/** One log line per call: route, status, caller, the message ids it touched, time. */
function logCall(logger: Logger, req: FastifyRequest, status: number, ms: number): void {
  const f = factsOf(req);
  logger.info({ method: req.method, route: req.routeOptions.url ?? req.url.split('?')[0], status, token: f.caller?.id, msgIds: f.msgIds, ms: Math.round(ms) }, 'gateway call');
}

function buildApp(o: GatewayOptions, tokens: TokenVerifier): FastifyInstance {
  const app = Fastify({
    bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // No fastify request logging: one line per call is written by the onResponse hook, with its message ids.
    logger: false,
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}),
    // Event streams are long-lived: a stop ends them (their un-acknowledged messages stay in JetStream).
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler(o.logger));
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRequest', async (req) => {
    const scope = (req.routeOptions.config as RouteConfig | undefined)?.scope;
    if (scope) factsOf(req).caller = await tokens.authorizeFresh(req.headers.authorization, scope);
  });
  app.addHook('onResponse', async (req, reply) => logCall(o.logger, req, reply.statusCode, reply.elapsedTime));
  return app;
}

/**
 * Start an agency's HTTP gateway: load its tokens and idempotency keys, consume its messages into the
 * inbox (each held un-acknowledged until the HTTP ack; in-doubt copies after a crash are handed out again,
 * since the HTTP reader acknowledges explicitly), and serve the routes.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const host = o.host ?? '127.0.0.1';
  const reload = tokenFileReloader(o.agencyDir);
  const tokens = new TokenVerifier((await reload()) ?? [], reload);
  checkExposure(host, o.tls, tokens, o.agencyDir);
  const readers = new ReaderSlots({
    perToken: o.maxReadersPerToken ?? DEFAULT_MAX_READERS_PER_TOKEN,
    total: o.maxReaders ?? DEFAULT_MAX_READERS,
    retryAfterS: o.busyRetryAfterS ?? DEFAULT_BUSY_RETRY_AFTER_S,
  });
  const idempotency = await IdempotencyLog.open(o.agencyDir);
  const inbox = new Inbox({ leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS });
  const held = o.heldPerConsumer ?? DEFAULT_HELD_PER_CONSUMER;
  const ctx: GatewayContext = { client: o.client, inbox, readers, idempotency, logger: o.logger, openapi: openApiDocument(o.client.catalog, { agency: o.client.id, version: o.version ?? '0.1.0' }) };
  const app = buildApp(o, tokens);
  try {
    await referenceRoutes(app, ctx);
    sendRoutes(app, ctx);
    inboxRoutes(app, ctx);
    requestRoutes(app, ctx);
    retractionRoutes(app, ctx);
    policyRoutes(app, ctx);
    await o.client.consume(inbox.handler, { redeliverInDoubt: true, maxInFlight: held, concurrency: held });
    await app.listen({ host, port: o.port ?? 0 });
  } catch (err) {
    inbox.close();
    await app.close().catch(() => undefined);
    await idempotency.close().catch(() => undefined);
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const url = `${o.tls ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  o.logger.info({ url, agency: o.client.id, tokens: tokens.size }, 'gateway listening');
  return {
    url,
    app,
    inbox,
    readers,
    async close() {
      inbox.close();
      await app.close();
      await idempotency.close();
      await o.client.close();
    },
  };
}
