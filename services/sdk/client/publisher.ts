import { errors, nuid, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { LiaisonError } from '../errors.ts';

/** JetStream's acknowledgement of a stored message. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Pending {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  /** When it was last published (first send or resend). */
  sentAt: number;
  /** Set by a first "no responders" answer on a cluster: resent until then (a stream electing its leader). */
  noLeaderUntil?: number;
  deadline: number;
  resolve: (ack: PubAck) => void;
  reject: (err: LiaisonError) => void;
}

/** After a cluster change, how long a publish waits for its acknowledgement before it is sent again. */
export const RESEND_EVERY_MS = 1_000;
/** How long after a cluster change waiting publishes are resent. */
export const RESEND_WINDOW_MS = 15_000;
/** How long a publish answered "no responders" on a cluster is resent (a stream's leader election) before it fails. */
export const NO_LEADER_GRACE_MS = 10_000;

/**
 * Asynchronous JetStream publishing (like nats.go's PublishAsync): each message is published with a
 * reply subject under one wildcard subscription in the agency's own inbox, and its PubAck resolves
 * the returned promise. Compared with one request per message this avoids a subscription lookup,
 * a timer and two pre-built error objects per publish, which dominated the sender's profile.
 * A permission violation the server reports for a subject fails the publishes pending on it.
 *
 * When the cluster changes under a live connection (the server announces a node gone or added: a stream leader may
 * have died with the publishes forwarded to it), publishes still waiting are sent again — the same bytes, headers
 * (Nats-Msg-Id) and reply subject — every {@link RESEND_EVERY_MS} for {@link RESEND_WINDOW_MS}: JetStream's duplicate
 * window stores each at most once (a resend of a stored one is acknowledged `duplicate`), and the new leader answers
 * within its election instead of the publish waiting out its deadline. A "no responders" answer on a cluster (a
 * stream between two leaders) is treated the same way for up to {@link NO_LEADER_GRACE_MS}. Nothing is resent while
 * the cluster is steady, so an overloaded exchange is not sent more.
 */
export class AsyncPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, Pending>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #next = 0;
  /** Until when waiting publishes are resent (set by a cluster change); 0 while the cluster is steady. */
  #resendUntil = 0;

  /** Why the exchange may have refused a subject, by the policy this process enforces. */
  readonly #explain: (subject: string) => { reason: string; rule?: string };

  constructor(nc: NatsConnection, inboxPrefix: string, explain: (subject: string) => { reason: string; rule?: string } = () => ({ reason: 'no explanation available' })) {
    this.#nc = nc;
    this.#explain = explain;
    this.#prefix = `${inboxPrefix}.puback.${nuid.next()}`;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, msg) => {
        if (err) return this.#failAll(new LiaisonError('ERR_PUBLISH', `publish acknowledgements stopped: ${err.message}`));
        const token = msg.subject.slice(this.#prefix.length + 1);
        const p = this.#pending.get(token);
        if (!p) return;
        if (msg.headers?.code === 503 && this.#electing(p)) return;
        this.#pending.delete(token);
        if (msg.headers?.code === 503) {
          return p.reject(new LiaisonError('ERR_PUBLISH', `no stream stores ${p.subject} (no responders)`, { subject: p.subject }));
        }
        try {
          const ack = JSON.parse(msg.string()) as { stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string } };
          if (ack.error || !ack.stream) {
            return p.reject(new LiaisonError('ERR_PUBLISH', `JetStream refused ${p.subject}: ${ack.error?.description ?? 'no stream'}`, { subject: p.subject }));
          }
          p.resolve({ stream: ack.stream, seq: ack.seq ?? 0, duplicate: ack.duplicate === true });
        } catch {
          p.reject(new LiaisonError('ERR_PUBLISH', `unreadable acknowledgement for ${p.subject}`, { subject: p.subject }));
        }
      },
    });
    this.#sweep = setInterval(() => this.#expire(), 250);
    this.#sweep.unref();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError && s.error.operation === 'publish') {
          this.#failSubject(s.error.subject);
        }
        // The acknowledgements of what was pending went to the server just lost (a cluster node that died): none
        // will come. Failing them now, not at their deadline, lets the sender resend (same id: deduplicated) at once.
        if (s.type === 'update') this.#resendUntil = Date.now() + RESEND_WINDOW_MS;
        if (s.type === 'disconnect') this.#failAll(new LiaisonError('ERR_TIMEOUT', `the connection to the exchange (${s.server}) was lost before it acknowledged: the message may still have been stored, and sending it again with the same id is safe`));
      }
    })();
  }

  /** Publish one message to JetStream; resolves with its PubAck, rejects with a typed error. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs = 10_000): Promise<PubAck> {
    const token = (this.#next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      const now = Date.now();
      this.#pending.set(token, { subject, data, headers, sentAt: now, deadline: now + timeoutMs, resolve, reject });
      try {
        this.#nc.publish(subject, data, { headers, reply: `${this.#prefix}.${token}` });
      } catch (err) {
        this.#pending.delete(token);
        reject(new LiaisonError('ERR_PUBLISH', `publish ${subject}: ${(err as Error).message}`, { subject }, { cause: err }));
      }
    });
  }

  #failSubject(subject: string): void {
    let why: { reason: string; rule?: string } | undefined;
    for (const [token, p] of this.#pending) {
      if (p.subject === subject) {
        this.#pending.delete(token);
        why ??= this.#explain(subject);
        p.reject(new LiaisonError('ERR_PERMISSION_DENIED', `the exchange refused publishing to ${subject} (Permissions Violation): ${why.reason}`, { subject, ...(why.rule ? { rule: why.rule } : {}) }));
      }
    }
  }

  #expire(): void {
    const now = Date.now();
    this.#resend(now, now < this.#resendUntil);
    for (const [token, p] of this.#pending) {
      if (p.deadline <= now) {
        this.#pending.delete(token);
        p.reject(new LiaisonError('ERR_TIMEOUT', `no acknowledgement from the exchange for ${p.subject} in time: check that the exchange is up and reachable (\`liaison doctor --as AGENCY_DIR\`) and not overloaded (\`liaison exchange status --dir TRUST_DIR\`); a send that timed out may still have been stored, and sending it again with the same id is safe`, { subject: p.subject }));
      }
    }
  }

  /**
   * Send again what waited at least {@link RESEND_EVERY_MS} for its acknowledgement after a cluster change, or was
   * answered "no responders" during an election (same reply subject: either answer settles it).
   */
  #resend(now: number, clusterChanged: boolean): void {
    for (const [token, p] of this.#pending) {
      if (now - p.sentAt < RESEND_EVERY_MS || !(clusterChanged || (p.noLeaderUntil !== undefined && now < p.noLeaderUntil))) continue;
      p.sentAt = now;
      try {
        this.#nc.publish(p.subject, p.data, { headers: p.headers, reply: `${this.#prefix}.${token}` });
      } catch {
        // The connection is closing: the disconnect or close fails what is pending.
      }
    }
  }

  /**
   * On a cluster, "no responders" for a stream subject is what a stream answers between its leader's death and the
   * election of the next: the publish stays waiting (resent every {@link RESEND_EVERY_MS}) for at most
   * {@link NO_LEADER_GRACE_MS} from its first such answer. On one server it means no stream stores the subject.
   */
  #electing(p: Pending): boolean {
    if (!this.#nc.info?.cluster) return false;
    const now = Date.now();
    p.noLeaderUntil ??= Math.min(p.deadline, now + NO_LEADER_GRACE_MS);
    return now < p.noLeaderUntil;
  }

  #failAll(err: LiaisonError): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Stop: pending publishes fail with ERR_PUBLISH. */
  close(): void {
    clearInterval(this.#sweep);
    this.#sub.unsubscribe();
    this.#failAll(new LiaisonError('ERR_PUBLISH', 'the client was closed before the exchange acknowledged'));
  }
}
