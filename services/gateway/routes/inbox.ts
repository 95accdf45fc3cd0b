import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf, noteMessage, type GatewayContext, type RouteConfig } from '../context.ts';
import type { Inbox, InboxMessage, Lease } from '../inbox.ts';
import { queryInt, type Query } from '../params.ts';

/** How often an idle event stream says it is alive (a comment line), so proxies keep it open. */
export const SSE_HEARTBEAT_MS = 15_000;

function wantsEventStream(req: FastifyRequest): boolean {
  return String(req.headers.accept ?? '').includes('text/event-stream');
}

function sseEvent(m: InboxMessage): string {
  return `id: ${m.sender}/${m.id}\nevent: message\ndata: ${JSON.stringify(m)}\n\n`;
}

/** Wait for room on a stream's lease (an ack) or the heartbeat, whichever comes first. */
function roomOrHeartbeat(lease: Lease, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      lease.wake = undefined;
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, SSE_HEARTBEAT_MS);
    lease.wake = done;
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Write, then wait for the socket to drain when its buffer is full (a slow reader slows the stream, not memory). */
async function write(reply: FastifyReply, text: string, signal: AbortSignal): Promise<void> {
  if (reply.raw.write(text) || signal.aborted) return;
  await new Promise<void>((resolve) => {
    reply.raw.once('drain', resolve);
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * A server-sent-event stream: at most `max` messages held un-acknowledged by this stream at a time; when
 * the client disconnects, what it did not acknowledge goes back to the queue for the next reader.
 */
async function stream(reply: FastifyReply, inbox: Inbox, max: number, ctx: GatewayContext): Promise<void> {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  reply.raw.write(': liaison gateway inbox\n\n');
  const lease = inbox.lease({ expires: false });
  const ac = new AbortController();
  reply.raw.once('close', () => ac.abort());
  let delivered = 0;
  try {
    while (!ac.signal.aborted && !inbox.closed) {
      const room = max - lease.held.size;
      if (room <= 0) {
        await roomOrHeartbeat(lease, ac.signal);
        if (lease.held.size >= max && !ac.signal.aborted) await write(reply, ': waiting for acks\n\n', ac.signal);
        continue;
      }
      const batch = await inbox.take(lease, room, SSE_HEARTBEAT_MS, ac.signal);
      if (batch.length === 0) {
        if (!ac.signal.aborted) await write(reply, ': keep-alive\n\n', ac.signal);
        continue;
      }
      for (const m of batch) await write(reply, sseEvent(m), ac.signal);
      delivered += batch.length;
    }
  } finally {
    const back = inbox.release(lease);
    ctx.logger.info({ delivered, returned: back }, 'gateway event stream closed');
    reply.raw.end();
  }
}

/** A long poll: up to `max` messages within `waitMs`, leased to this caller until acknowledged or the lease ends. */
async function longPoll(req: FastifyRequest, reply: FastifyReply, inbox: Inbox, max: number, waitMs: number): Promise<{ messages: InboxMessage[] }> {
  const lease = inbox.lease({ expires: true });
  const ac = new AbortController();
  reply.raw.once('close', () => ac.abort());
  const messages = await inbox.take(lease, max, waitMs, ac.signal);
  if (messages.length === 0 || ac.signal.aborted) inbox.release(lease);
  for (const m of messages) noteMessage(req, `${m.sender}/${m.id}`);
  return { messages };
}

/**
 * `GET /v1/messages` (long poll or SSE) and `POST /v1/messages/{sender}/{id}/ack`: a message is
 * (sender, id), so its acknowledgement names both.
 */
export function inboxRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const config: RouteConfig = { scope: 'receive' };
  app.get<{ Querystring: Query }>('/v1/messages', { config }, async (req, reply) => {
    const max = queryInt(req.query, 'max', 1, 256, 16);
    const sse = wantsEventStream(req);
    const waitMs = queryInt(req.query, 'wait', 0, 60, 20) * 1000;
    // Bounded per token and in all (ERR_GATEWAY_BUSY, 429 with Retry-After, beyond): taken once the query is valid.
    const done = ctx.readers.acquire(callerOf(req).id);
    try {
      // The slot is held until the stream ends or the poll answers.
      return sse ? await stream(reply, ctx.inbox, max, ctx) : await longPoll(req, reply, ctx.inbox, max, waitMs);
    } finally {
      done();
    }
  });

  app.post<{ Params: { sender: string; id: string } }>('/v1/messages/:sender/:id/ack', { config }, async (req, reply) => {
    ctx.inbox.ack(req.params.sender, req.params.id);
    noteMessage(req, `${req.params.sender}/${req.params.id}`);
    return reply.code(204).send();
  });
}
