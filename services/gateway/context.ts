import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LiaisonClient } from '../sdk/client/client.ts';
import type { Logger } from '../sdk/logging.ts';
import type { IdempotencyLog } from './idempotency.ts';
import type { Inbox } from './inbox.ts';
import type { ReaderSlots } from './readers.ts';
import type { Scope, TokenCaller } from './tokens.ts';

/** What every route of one gateway shares. */
export interface GatewayContext {
  client: LiaisonClient;
  inbox: Inbox;
  /** The bound on open event streams and long polls (per token and in all). */
  readers: ReaderSlots;
  idempotency: IdempotencyLog;
  logger: Logger;
  /** The OpenAPI document served at /openapi.json. */
  openapi: Record<string, unknown>;
}

/** Per-route settings: the scope a token needs (absent: a public route, e.g. the API reference). */
export interface RouteConfig {
  scope?: Scope;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a token needs for this route (see RouteConfig). */
    scope?: Scope;
  }
}

/** What a call carries besides fastify's own: the caller and the message ids it touched (logged once per call). */
export interface CallFacts {
  caller?: TokenCaller;
  msgIds: string[];
}

const FACTS = new WeakMap<FastifyRequest, CallFacts>();

/** The facts of a call (created on first use). */
export function factsOf(req: FastifyRequest): CallFacts {
  let f = FACTS.get(req);
  if (!f) {
    f = { msgIds: [] };
    FACTS.set(req, f);
  }
  return f;
}

/** Record a message id a call sent, received, acknowledged or asked about (it goes into the call's log line). */
export function noteMessage(req: FastifyRequest, id: string): void {
  factsOf(req).msgIds.push(id);
}

/** The caller's token id (authenticated by the onRequest hook). */
export function callerOf(req: FastifyRequest): TokenCaller {
  return factsOf(req).caller!;
}

/** A route handler's signature. */
export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
