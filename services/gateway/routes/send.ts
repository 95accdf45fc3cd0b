import type { FastifyInstance } from 'fastify';
import type { SendReceipt } from '../../sdk/client/client.ts';
import type { SendOptions } from '../../sdk/envelope/seal.ts';
import { callerOf, noteMessage, type GatewayContext, type RouteConfig } from '../context.ts';
import { checkIdempotencyKey, requestFingerprint } from '../idempotency.ts';
import { sendOptionsOf, type Query } from '../params.ts';

/** What a send answers (the SDK's receipt, as JSON). */
export type SendAnswer = Pick<SendReceipt, 'id' | 'type' | 'copies'>;

function answerOf(r: SendReceipt): SendAnswer {
  return { id: r.id, type: r.type, copies: r.copies };
}

/**
 * `POST /v1/messages/{type}`: the JSON body is validated against the type's schema, sealed, projected,
 * signed and sent with the query's options. With `Idempotency-Key` the same key never sends twice: a
 * replay answers the first send's receipt (`Idempotent-Replayed: true`).
 */
export function sendRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const config: RouteConfig = { scope: 'send' };
  app.post<{ Params: { type: string }; Querystring: Query }>('/v1/messages/:type', { config }, async (req, reply) => {
    const type = ctx.client.catalog.get(req.params.type).name;
    const opts = sendOptionsOf(req.query);
    const body: unknown = req.body;
    const send = async (id?: string): Promise<SendAnswer> => answerOf(await ctx.client.send(type, body, { ...opts, ...(id ? { id } : {}) } satisfies SendOptions));
    const header = req.headers['idempotency-key'];
    let answer: SendAnswer;
    let replayed = false;
    if (header === undefined) answer = await send();
    else {
      const key = `${callerOf(req).id}:${checkIdempotencyKey(String(header))}`;
      const r = await ctx.idempotency.run(key, requestFingerprint({ type, body, opts }), send);
      answer = r.result;
      replayed = r.replayed;
    }
    noteMessage(req, answer.id);
    return reply.code(201).header('idempotent-replayed', String(replayed)).send(answer);
  });
}
