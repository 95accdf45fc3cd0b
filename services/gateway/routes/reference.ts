import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { GatewayContext } from '../context.ts';

/** Where the interactive API reference is served. */
export const REFERENCE_PREFIX = '/docs';

/**
 * The public routes: `GET /openapi.json` (the generated OpenAPI 3.1 document), the interactive
 * reference at {@link REFERENCE_PREFIX}, and `GET /healthz` (the agency and the policy it enforces).
 */
export async function referenceRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: ctx.openapi as never } });
  await app.register(swaggerUi, { routePrefix: REFERENCE_PREFIX });
  app.get('/openapi.json', async () => ctx.openapi);
  app.get('/healthz', async () => ({ agency: ctx.client.id, policyHash: ctx.client.policy.hash, held: ctx.inbox.size, ready: ctx.inbox.ready }));
}
