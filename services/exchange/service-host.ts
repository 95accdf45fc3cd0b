import { connect, credsAuthenticator, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { drainBy } from '../sdk/client/drain-by.ts';
import { asLiaisonError } from '../sdk/errors.ts';
import { serverList, trustDirTls } from '../sdk/client/nats-tls.ts';
import type { Logger } from '../sdk/logging.ts';
import { SERVICE_RESPONSES } from '../sdk/policy/index.ts';
import { inboxPrefix, responseRoute } from '../sdk/subjects.ts';
import { issueUser, readPrivateFile, trustPaths } from '../trust/index.ts';

/** What an exchange service answers to one request. */
export interface ExchangeAnswer {
  data: string | Uint8Array;
  headers?: MsgHdrs;
}

/** Answers one request of `agency` (the last token of the request subject, which only that agency may publish on). */
export type ExchangeResponder = (msg: Msg, agency: string) => ExchangeAnswer | Promise<ExchangeAnswer>;

/** A request the host refused to answer. */
export interface DroppedRequest {
  service: string;
  agency: string;
  /** The reply subject the request named (at most 120 characters). */
  reply: string;
  at: string;
}

/** Counters of an {@link ExchangeServiceHost}. */
export interface ServiceHostStats {
  answered: number;
  dropped: number;
  /** The last few refusals (at most {@link RECENT_DROPS}), newest last. */
  recent: DroppedRequest[];
}

/** How many dropped requests the host remembers for `exchange status` and tests. */
export const RECENT_DROPS = 32;

/**
 * Where the exchange's request/reply services (directory, replay, retraction) listen and answer. Defence in
 * depth against the confused deputy:
 * 1. a request reaches the exchange only through the requesting agency's import of its own request subject
 *    (each agency has a NATS account of its own), so its reply is a service-import response route (`_R_.…`)
 *    that the server maps back into the requester's account; the host answers only such routes and drops,
 *    counts and logs anything else;
 * 2. it runs on a NATS user of its own, issued in memory at start and never written to disk, whose only
 *    publish right is those response routes — not `$JS.>`, `$KV.>`, `$O.>`, `$SYS.>` nor any message
 *    subject — so even a missed check could not reach JetStream;
 * 3. the administrator's connection, which does the JetStream work, answers no request.
 */
export interface ExchangeServiceHost {
  /** Listen on `subject` (last token: the requesting agency) and answer with `respond`. */
  listen(service: string, subject: string, respond: ExchangeResponder, opts?: { queue?: string }): void;
  readonly stats: ServiceHostStats;
  /** Stop answering and close the connection: drained until the epoch-ms deadline `by` (default: 5 s from now), then closed; true when drained. */
  close(by?: number): Promise<boolean>;
}

/** The NATS user name of the exchange's services. */
export const SERVICES_USER = 'liaison-exchange-services';

interface Listener {
  service: string;
  subject: string;
  respond: ExchangeResponder;
  queue?: string;
}

/** Publish and subscribe rights of the services user: response routes out, the service subjects in. */
export function servicesUserPermissions(subjects: readonly string[]): { pub: { allow: string[] }; sub: { allow: string[] } } {
  return { pub: { allow: [SERVICE_RESPONSES] }, sub: { allow: [...new Set(subjects)].sort() } };
}

async function connectServicesUser(o: { url: string; trustDir: string; plain?: boolean; subjects: string[] }): Promise<NatsConnection> {
  const accountSeed = (await readPrivateFile(trustPaths(o.trustDir).accountSeed)).toString('utf8').trim();
  const user = await issueUser({ accountSigner: accountSeed, name: SERVICES_USER, permissions: servicesUserPermissions(o.subjects) });
  try {
    return await connect({
      servers: serverList(o.url),
      ...(await trustDirTls(o.trustDir, o.url, { plain: o.plain })),
      authenticator: credsAuthenticator(new TextEncoder().encode(user.creds)),
      name: SERVICES_USER,
      inboxPrefix: inboxPrefix(SERVICES_USER),
      maxReconnectAttempts: -1,
    });
  } catch (err) {
    throw asLiaisonError(err, 'ERR_CONNECT', `the exchange services cannot connect to ${o.url}`);
  }
}

/** Start the services host of an exchange for `subjects` (every subject a later `listen` names). */
export async function startExchangeServiceHost(o: { url: string; trustDir: string; plain?: boolean; subjects: string[]; logger?: Logger }): Promise<ExchangeServiceHost> {
  const listeners: Listener[] = [];
  const stats: ServiceHostStats = { answered: 0, dropped: 0, recent: [] };
  const nc = await connectServicesUser(o);
  const subs: Subscription[] = [];

  const drop = (l: Listener, agency: string, reply: string | undefined) => {
    stats.dropped++;
    const d = { service: l.service, agency, reply: (reply ?? '(none)').slice(0, 120), at: new Date().toISOString() };
    stats.recent.push(d);
    if (stats.recent.length > RECENT_DROPS) stats.recent.shift();
    o.logger?.warn(d, 'request dropped: its reply subject is not a service-import response route');
  };

  const attach = (conn: NatsConnection, l: Listener): Subscription =>
    conn.subscribe(l.subject, {
      ...(l.queue ? { queue: l.queue } : {}),
      callback: (err, msg) => {
        if (err) return o.logger?.warn({ err, service: l.service }, 'exchange service subscription error');
        const agency = msg.subject.split('.').at(-1) ?? '';
        if (!responseRoute(msg.reply)) return drop(l, agency, msg.reply);
        void Promise.resolve()
          .then(() => l.respond(msg, agency))
          .then((a) => {
            msg.respond(a.data, a.headers ? { headers: a.headers } : undefined);
            stats.answered++;
          })
          .catch((e: unknown) => o.logger?.warn({ err: e, service: l.service, agency }, 'exchange service could not answer'));
      },
    });

  return {
    stats,
    listen(service, subject, respond, opts = {}) {
      const l: Listener = { service, subject, respond, ...(opts.queue ? { queue: opts.queue } : {}) };
      listeners.push(l);
      subs.push(attach(nc, l));
    },
    async close(by = Date.now() + 5_000) {
      for (const s of subs) s.unsubscribe();
      return await drainBy(nc, by);
    },
  };
}
