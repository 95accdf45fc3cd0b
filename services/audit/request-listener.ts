import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Policy, TypeCatalog } from '../sdk/policy/index.ts';
import { servedTypes } from '../sdk/policy/index.ts';
import { REPLAY_SUBJECTS, serviceSubject } from '../sdk/subjects.ts';
import type { RequestQueue } from './request-queue.ts';

/** How often the listener looks for a new policy (and so new request subjects). */
const RELISTEN_MS = 1_000;

/**
 * The request subjects the audit listens on: those of the request types some agency serves under the
 * policy, and the replay subjects. Not `liaison.v1.svc.>`: a listener is interest, so a request to a
 * subject nobody serves (the directory service while it is down) would wait for its timeout instead
 * of failing at once with "no responders".
 */
export function auditedRequestSubjects(policy: Policy, catalog: TypeCatalog): string[] {
  const out = [REPLAY_SUBJECTS];
  for (const type of servedTypes(policy)) {
    const family = catalog.familyOf(type);
    if (family) out.push(serviceSubject(family, type, '*'));
  }
  return out;
}

/** Options of a {@link RequestListener}. */
export interface RequestListenerOptions {
  nc: NatsConnection;
  /** The policy in force: the subjects are those it serves, subscribed again when it changes. */
  policy: () => Policy;
  catalog: TypeCatalog;
  /** Where each request seen goes (held, or counted when full). */
  requests: RequestQueue;
  /** Called after each request is offered: the current session's pump takes it. */
  onRequest: () => void;
}

/**
 * The audit's listener on the audited request subjects. It belongs to the service, not to one session: requests are
 * core NATS, so one arriving while a failed session is being replaced (the writer failed, a new one opens a second
 * later) is still seen — held in the service's bounded queue for the next session's writer, or counted in a
 * `queries-missed` entry beyond its bound — never lost unseen (issue 16, test/audit-session-replaced).
 */
export class RequestListener {
  readonly #o: RequestListenerOptions;
  #subs: Subscription[] = [];
  #subscribedFor = '';
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(o: RequestListenerOptions) {
    this.#o = o;
  }

  /** Start listening (again a no-op once started or closed); the subjects follow the policy. */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#listen();
    this.#timer = setInterval(() => this.#listen(), RELISTEN_MS);
    this.#timer.unref();
  }

  /** Stop listening: requests published from now on are not seen (the audit is stopping). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = [];
  }

  /** (Re)subscribe to the audited request subjects when the policy changed. */
  #listen(): void {
    const policy = this.#o.policy();
    if (this.#closed || policy.hash === this.#subscribedFor) return;
    this.#subscribedFor = policy.hash;
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = auditedRequestSubjects(policy, this.#o.catalog).map((subject) =>
      this.#o.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err || this.#closed) return;
          this.#o.requests.offer({ subject: msg.subject, data: msg.data, reply: msg.reply, header: (n: string) => msg.headers?.get(n) || undefined, at: new Date().toISOString() });
          this.#o.onRequest();
        },
      }),
    );
  }
}
