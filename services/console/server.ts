import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { isLiaisonError, LiaisonError } from '../sdk/errors.ts';
import type { Logger } from '../sdk/logging.ts';
import type { Scenario } from '../simulator/scenario.ts';
import { EventHub } from './hub.ts';
import { SPEEDS } from './playback.ts';
import { ConsoleSession } from './session.ts';
import { vendorModule } from './vendor.ts';

/** Where the page's files are. */
export const WEB_DIR = join(import.meta.dirname, 'web');

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  scenario: Scenario;
  /** TCP port on 127.0.0.1 (0: any free port). */
  port?: number;
  logger?: Logger;
  /** Start paused (the presenter presses play or step). */
  paused?: boolean;
  /** Real milliseconds between scenario events at speed 1. */
  stepMs?: number;
  /** Start the run at once instead of when the first page connects. */
  startNow?: boolean;
}

/** A running console. */
export interface RunningConsole {
  url: string;
  hub: EventHub;
  session: ConsoleSession;
  app: FastifyInstance;
  /** Stop the scenario's runs (their federations removed) and the web server. */
  stop(): Promise<void>;
}

/** The index page, and a Content-Security-Policy admitting its one inline script (the import map) by hash. */
async function indexPage(): Promise<{ html: string; csp: string }> {
  const html = await readFile(join(WEB_DIR, 'index.html'), 'utf8');
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(map).digest('base64');
  return { html, csp: `default-src 'self'; script-src 'self' 'sha256-${hash}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'` };
}

/** A request's failure as JSON with its code (400 for the caller's mistakes, 500 otherwise). */
function failure(err: unknown): { status: number; body: { code: string; message: string } } {
  if (isLiaisonError(err)) return { status: err.code === 'ERR_INTERNAL' ? 500 : 400, body: { code: err.code, message: err.message } };
  return { status: 500, body: { code: 'ERR_INTERNAL', message: (err as Error).message } };
}

interface PlaybackBody {
  action?: unknown;
  speed?: unknown;
}

/** The presenter's control: play, pause, step, or a speed from {@link SPEEDS}. */
function control(session: ConsoleSession, body: PlaybackBody): void {
  const p = session.playback;
  if (body.action === 'play') p.play();
  else if (body.action === 'pause') p.pause();
  else if (body.action === 'step') p.step();
  else if (body.action === 'speed' && SPEEDS.includes(body.speed as (typeof SPEEDS)[number])) p.setSpeed(body.speed as number);
  else throw new LiaisonError('ERR_USAGE', `playback: expected action play, pause, step, or speed with one of ${SPEEDS.join(', ')}`);
  if (!session.started()) void session.start();
}

/** The routes: the page and its modules, the event stream, playback and what-if. */
async function routes(app: FastifyInstance, hub: EventHub, session: ConsoleSession, startNow: boolean): Promise<void> {
  const page = await indexPage();
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', page.csp).send(page.html));
  await app.register(fastifyStatic, { root: WEB_DIR, prefix: '/web/', index: false });
  app.get<{ Params: { name: string } }>('/vendor/:name', async (req, reply) => {
    const text = vendorModule(req.params.name);
    if (text === undefined) return reply.code(404).send({ code: 'ERR_USAGE', message: 'no such module' });
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(text);
  });
  app.get('/events', (req, reply) => {
    reply.hijack();
    hub.attach(reply.raw, () => {
      if (!startNow && !session.started()) void session.start();
    });
    req.raw.on('close', () => reply.raw.end());
  });
  app.get('/api/state', async () => ({ playback: session.playback.state(), speeds: SPEEDS, events: hub.history().length, whatif: session.whatIf() ?? null }));
  app.post<{ Body: PlaybackBody }>('/api/playback', async (req, reply) => {
    try {
      control(session, req.body ?? {});
      return session.playback.state();
    } catch (err) {
      const f = failure(err);
      return reply.code(f.status).send(f.body);
    }
  });
  app.get<{ Querystring: { id?: string; sender?: string } }>('/api/explain', async (req, reply) => {
    try {
      const id = req.query.id;
      if (!id || !/^[0-9a-f-]{36}$/.test(id)) throw new LiaisonError('ERR_USAGE', 'explain: give ?id=MESSAGE-ID (a UUID) and optionally &sender=AGENCY');
      return await session.explain(id, req.query.sender || undefined);
    } catch (err) {
      const f = failure(err);
      return reply.code(f.status).send(f.body);
    }
  });
  app.post<{ Body: { policy?: unknown; file?: unknown } }>('/api/whatif', async (req, reply) => {
    try {
      const text = req.body?.policy;
      if (typeof text !== 'string' || text.trim() === '') throw new LiaisonError('ERR_USAGE', 'what-if: send the draft policy as {"policy": "<YAML text>", "file": "name.yaml"}');
      return await session.loadDraft(text, typeof req.body.file === 'string' ? req.body.file : 'draft.yaml');
    } catch (err) {
      const f = failure(err);
      return reply.code(f.status).send(f.body);
    }
  });
}

/**
 * Start the live console: a fastify server on 127.0.0.1 serving the page (Preact + htm modules from
 * node_modules through an import map), the scenario's events as server-sent events, the presenter's
 * playback and the policy what-if. The scenario starts when the first page connects (or at once).
 */
export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const hub = new EventHub();
  const session = new ConsoleSession({ scenario: o.scenario, hub, ...(o.logger ? { logger: o.logger } : {}), ...(o.paused ? { paused: true } : {}), ...(o.stepMs !== undefined ? { stepMs: o.stepMs } : {}) });
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 1_048_576 });
  await routes(app, hub, session, o.startNow === true);
  let address: string;
  try {
    address = await app.listen({ host: '127.0.0.1', port: o.port ?? 0 });
  } catch (err) {
    throw new LiaisonError('ERR_CONFIG_INVALID', `the console cannot listen on 127.0.0.1:${o.port ?? 0}: ${(err as Error).message}`, { port: o.port ?? 0 }, { cause: err });
  }
  if (o.startNow) void session.start();
  return {
    url: `${address}/`,
    hub,
    session,
    app,
    async stop() {
      await session.stop();
      hub.close();
      await app.close();
    },
  };
}
