import type { FastifyInstance } from 'fastify';
import { LiaisonError } from '../../sdk/errors.ts';
import { noteMessage, type GatewayContext, type RouteConfig } from '../context.ts';

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new LiaisonError('ERR_GATEWAY_JSON', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function text(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new LiaisonError('ERR_USAGE', `"${name}" must be a non-empty string`, { field: name });
  return v;
}

/**
 * Retraction and correction of messages this agency sent (`/v1/sent/{id}/…`: the sender is this agency,
 * so (sender, id) is named by the id).
 */
export function retractionRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const config: RouteConfig = { scope: 'retract' };
  app.post<{ Params: { id: string } }>('/v1/sent/:id/retract', { config }, async (req) => {
    const reason = text(objectBody(req.body), 'reason', true)!;
    noteMessage(req, req.params.id);
    return await ctx.client.retract(req.params.id, reason);
  });
  app.get<{ Params: { id: string } }>('/v1/sent/:id/retract', { config }, async (req) => {
    noteMessage(req, req.params.id);
    return await ctx.client.retractionStatus(req.params.id);
  });
  app.post<{ Params: { id: string } }>('/v1/sent/:id/correct', { config }, async (req) => {
    const b = objectBody(req.body);
    noteMessage(req, req.params.id);
    const o = await ctx.client.correct(req.params.id, b.body, text(b, 'reason', false));
    noteMessage(req, o.correctedId);
    return o;
  });
}
