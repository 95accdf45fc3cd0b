import type { FastifyInstance } from 'fastify';
import type { ReceivedMessage } from '../../sdk/envelope/open.ts';
import { noteMessage, type GatewayContext, type RouteConfig } from '../context.ts';

/** A verified reply as JSON. */
function replyOf(r: ReceivedMessage): Record<string, unknown> {
  return { id: r.header.id, from: r.header.sender, type: r.type, tier: r.header.tier, requestHash: r.header.requestHash, body: r.body };
}

/** Request types the gateway offers, by path: the serving agency answers with a signed reply. */
const REQUESTS: Readonly<Record<string, string>> = {
  '/v1/checks/document': 'DocumentCheckRequest',
  '/v1/checks/person': 'PersonCheckRequest',
  '/v1/cases/query': 'CaseQuery',
};

/** `POST /v1/checks/document`, `/v1/checks/person` and `/v1/cases/query`: a signed request, its verified reply. */
export function requestRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const config: RouteConfig = { scope: 'check' };
  for (const [path, type] of Object.entries(REQUESTS)) {
    app.post(path, { config }, async (req) => {
      const reply = await ctx.client.request(type, req.body);
      noteMessage(req, `${reply.header.sender}/${reply.header.id}`);
      return replyOf(reply);
    });
  }
}
