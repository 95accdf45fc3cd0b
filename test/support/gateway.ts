import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { LiaisonClient } from '../../services/sdk/client/client.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../services/gateway/server.ts';
import { createToken, SCOPES, type Scope } from '../../services/gateway/tokens.ts';
import type { TestFederation } from './federation.ts';

/** A gateway started for a test, with its agency's client, a token of every scope and its log lines. */
export interface TestGateway {
  gw: Gateway;
  client: LiaisonClient;
  url: string;
  token: string;
  /** Every log line the gateway wrote (parsed pino JSON). */
  lines: Record<string, unknown>[];
  /** A token with only these scopes. */
  tokenWith(scopes: Scope[]): Promise<string>;
  stop(): Promise<void>;
}

/** Start an agency's gateway on 127.0.0.1 (any free port) with a real SDK client of a test federation. */
export async function startTestGateway(fed: TestFederation, agency: string, o: Partial<GatewayOptions> & { token?: string } = {}): Promise<TestGateway> {
  const dir = fed.agencyDirs[agency]!;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const token = o.token ?? (await createToken(dir, [...SCOPES], 'test')).token;
  const client = await fed.connect(agency);
  const gw = await startGateway({ client, agencyDir: dir, logger, ...o });
  return {
    gw,
    client,
    url: gw.url,
    token,
    lines,
    tokenWith: async (scopes) => (await createToken(dir, scopes)).token,
    async stop() {
      await gw.close();
    },
  };
}

/** An HTTP answer: status, headers, and the body parsed as JSON when it is JSON. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/** Call a gateway with a real HTTP client (fetch). `json` is sent as application/json; `raw` as is. */
export async function call(
  base: string,
  method: string,
  path: string,
  o: { token?: string; json?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] = 'application/json';
  } else if (o.raw !== undefined) {
    body = o.raw;
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, body: type.includes('json') && text ? JSON.parse(text) : text };
}

/** An open server-sent-event stream of a gateway's inbox. */
export interface EventStream {
  /** The `message` events so far (parsed data). */
  events: any[];
  /** Resolves once `n` events have arrived (rejects after `ms`). */
  until(n: number, ms?: number): Promise<void>;
  /** Drop the connection (as a crashed or disconnected client). */
  close(): void;
}

/** Open `GET /v1/messages` as an SSE stream with fetch and parse its events as they come. */
export async function openEventStream(base: string, token: string, max = 16): Promise<EventStream> {
  const ac = new AbortController();
  const res = await fetch(`${base}/v1/messages?max=${max}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: ac.signal });
  if (res.status !== 200) throw new Error(`event stream: HTTP ${res.status}: ${await res.text()}`);
  const events: any[] = [];
  void (async () => {
    let buf = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (block.includes('event: message') && data) events.push(JSON.parse(data));
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async until(n, ms = 10_000) {
      const end = Date.now() + ms;
      while (events.length < n) {
        if (Date.now() > end) throw new Error(`only ${events.length} of ${n} events within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => ac.abort(),
  };
}

/** Poll `pred` until it holds or `ms` pass; returns whether it held. */
export async function eventually(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return await pred();
}
