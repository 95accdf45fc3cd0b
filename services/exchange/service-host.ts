import { connect, credsAuthenticator, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { trustDirTls } from '../sdk/client/nats-tls.ts';
import type { Logger } from '../sdk/logging.ts';
import type { Policy } from '../sdk/policy/index.ts';
import { inboxPrefix, replyAllowed } from '../sdk/subjects.ts';
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
 * 1. it answers only inside the requesting agency's own inbox prefix (the agency the broker authenticated
 *    through the request subject), and drops, counts and logs anything else;
 * 2. it runs on a NATS user of its own, issued in memory at start and never written to disk, whose only
 *    publish rights are the agencies' inbox prefixes — not `$JS.>`, `$KV.>`, `$O.>`, `$SYS.>` nor any
 *    message subject — so even a missed check could not reach JetStream;
 * 3. the administrator's connection, which does the JetStream work, answers no request.
 * A policy that adds agencies re-issues the user ({@link ExchangeServiceHost.follow}).
 */
export interface ExchangeServiceHost {
  /** Listen on `subject` (last token: the requesting agency) and answer with `respond`. */
  listen(service: string, subject: string, respond: ExchangeResponder, opts?: { queue?: string }): void;
  readonly stats: ServiceHostStats;
  /** Re-issue the services user for `policy`'s agencies and move every listener to it (no-op when they are unchanged). */
  follow(policy: Policy): Promise<void>;
  close(): Promise<void>;
}

/** The NATS user name of the exchange's services. */
export const SERVICES_USER = 'liaison-exchange-services';

interface Listener {
  service: string;
  subject: string;
  respond: ExchangeResponder;
  queue?: string;
}

/** Publish and subscribe rights of the services user: agency inboxes out, the service subjects in. */
export function servicesUserPermissions(agencies: readonly string[], subjects: readonly string[]): { pub: { allow: string[] }; sub: { allow: string[] } } {
  return { pub: { allow: [...new Set(agencies)].sort().map((a) => `${inboxPrefix(a)}.>`) }, sub: { allow: [...new Set(subjects)].sort() } };
}

async function connectServicesUser(o: { url: string; trustDir: string; plain?: boolean; agencies: string[]; subjects: string[] }): Promise<NatsConnection> {
  const accountSeed = (await readPrivateFile(trustPaths(o.trustDir).accountSeed)).toString('utf8').trim();
  const user = await issueUser({ accountSigner: accountSeed, name: SERVICES_USER, permissions: servicesUserPermissions(o.agencies, o.subjects) });
  try {
    return await connect({
      servers: o.url,
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
export async function startExchangeServiceHost(o: { url: string; trustDir: string; plain?: boolean; policy: Policy; subjects: string[]; logger?: Logger }): Promise<ExchangeServiceHost> {
  const listeners: Listener[] = [];
  const stats: ServiceHostStats = { answered: 0, dropped: 0, recent: [] };
  let agencies = Object.keys(o.policy.agencies).sort();
  let nc = await connectServicesUser({ ...o, agencies });
  let subs: Subscription[] = [];
  const retiring = new Set<NatsConnection>();

  const drop = (l: Listener, agency: string, reply: string | undefined) => {
    stats.dropped++;
    const d = { service: l.service, agency, reply: (reply ?? '(none)').slice(0, 120), at: new Date().toISOString() };
    stats.recent.push(d);
    if (stats.recent.length > RECENT_DROPS) stats.recent.shift();
    o.logger?.warn(d, 'request dropped: its reply subject is not inside the requesting agency’s own inbox');
  };

  const attach = (conn: NatsConnection, l: Listener): Subscription =>
    conn.subscribe(l.subject, {
      ...(l.queue ? { queue: l.queue } : {}),
      callback: (err, msg) => {
        if (err) return o.logger?.warn({ err, service: l.service }, 'exchange service subscription error');
        const agency = msg.subject.split('.').at(-1) ?? '';
        if (!replyAllowed(msg.reply, agency)) return drop(l, agency, msg.reply);
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
    async follow(policy) {
      const next = Object.keys(policy.agencies).sort();
      if (next.join(',') === agencies.join(',')) return;
      const fresh = await connectServicesUser({ ...o, agencies: next });
      const old = nc;
      const oldSubs = subs;
      subs = listeners.map((l) => attach(fresh, l));
      await fresh.flush();
      nc = fresh;
      agencies = next;
      for (const s of oldSubs) s.unsubscribe();
      // Answers in flight on the old connection still go out; then it closes.
      retiring.add(old);
      setTimeout(() => void old.drain().catch(() => undefined).finally(() => retiring.delete(old)), 5_000).unref();
      o.logger?.info({ agencies: next.length }, 'exchange services user re-issued for the policy');
    },
    async close() {
      for (const s of subs) s.unsubscribe();
      for (const c of [nc, ...retiring]) await c.drain().catch(() => c.close());
    },
  };
}
