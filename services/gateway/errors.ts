import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import { problemOf, PROBLEM_MEDIA_TYPE } from './problem.ts';

/** fastify's own failures (body parsing and limits) as the LiaisonError the caller sees. */
function fromFastify(err: FastifyError): LiaisonError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LiaisonError('ERR_MESSAGE_TOO_LARGE', `the request body exceeds the gateway's limit: ${err.message}`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new LiaisonError('ERR_GATEWAY_JSON', `the request body is not JSON: ${err.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new LiaisonError('ERR_GATEWAY_JSON', `send the body as application/json: ${err.message}`);
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return new LiaisonError('ERR_GATEWAY_JSON', `the request body is not JSON: ${err.message}`);
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new LiaisonError('ERR_USAGE', err.message);
  return undefined;
}

/** Send a LiaisonError as RFC 9457 problem+json. */
export function sendProblem(reply: FastifyReply, err: LiaisonError): FastifyReply {
  const p = problemOf(err);
  // A refusal that passes (ERR_GATEWAY_BUSY) says when to come back (RFC 9110 §10.2.3).
  const retryAfter = err.details['retryAfterS'];
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  return reply.code(p.status).type(PROBLEM_MEDIA_TYPE).send(p);
}

/** The gateway's error handler: every failure becomes problem+json; an unexpected one is ERR_INTERNAL and logged with its stack. */
export function errorHandler(logger: Logger) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (err instanceof LiaisonError) return sendProblem(reply, err);
    const known = fromFastify(err);
    if (known) return sendProblem(reply, known);
    logger.error({ err, route: req.routeOptions.url }, 'gateway call failed unexpectedly');
    return sendProblem(reply, new LiaisonError('ERR_INTERNAL', `unexpected failure: ${err.message}`));
  };
}

/** Unknown routes: problem+json too. */
export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, new LiaisonError('ERR_GATEWAY_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
