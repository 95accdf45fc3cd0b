import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { LiaisonError } from '../sdk/errors.ts';

/** A verified message as the gateway hands it to HTTP readers (JSON; dates as ISO 8601). */
export interface InboxMessage {
  sender: string;
  id: string;
  type: string;
  family: string;
  tier: string;
  recipient: string;
  createdAt: string;
  handling: string;
  tlp: string;
  caseRef?: string;
  correlationId?: string;
  causationId?: string;
  expiresAt?: string;
  policyHash: string;
  body: Record<string, unknown>;
  /** How many times the gateway has handed this message to a reader (1 the first time). */
  delivery: number;
  /** Where to acknowledge it: `POST` this path once the message is safely applied. */
  ack: string;
}

/** One message held un-acknowledged: the SDK's handler waits on it until the HTTP acknowledgement. */
interface Held {
  key: string;
  msg: ReceivedMessage;
  deliveries: number;
  /** The reader holding it now (undefined: waiting in the ready queue). */
  lease?: Lease;
  settle: () => void;
  fail: (err: Error) => void;
}

/** Messages handed to one reader: an SSE stream (until it closes) or one long poll (until its lease expires). */
export interface Lease {
  readonly held: Set<string>;
  timer?: NodeJS.Timeout;
  /** Called when one of its messages is acknowledged (an SSE stream waiting for room). */
  wake?: () => void;
}

/** The path of a message's acknowledgement: a message is (sender, id), never its id alone. */
export function ackPath(sender: string, id: string): string {
  return `/v1/messages/${encodeURIComponent(sender)}/${encodeURIComponent(id)}/ack`;
}

function heldKey(sender: string, id: string): string {
  return `${sender} ${id}`;
}

function toInboxMessage(h: Held): InboxMessage {
  const { header, type, family, body } = h.msg;
  return {
    sender: header.sender,
    id: header.id,
    type,
    family,
    tier: header.tier,
    recipient: header.recipient,
    createdAt: header.createdAt.toISOString(),
    handling: header.handling,
    tlp: header.tlp,
    ...(header.caseRef ? { caseRef: header.caseRef } : {}),
    ...(header.correlationId ? { correlationId: header.correlationId } : {}),
    ...(header.causationId ? { causationId: header.causationId } : {}),
    ...(header.expiresAt ? { expiresAt: header.expiresAt.toISOString() } : {}),
    policyHash: header.policyHash,
    body,
    delivery: h.deliveries,
    ack: ackPath(header.sender, header.id),
  };
}

/**
 * The bridge between the SDK's consumers and HTTP readers. {@link Inbox.handler} is the consume handler:
 * it holds each verified message un-acknowledged (its promise settles only on the HTTP ack), so JetStream
 * keeps it until the agency system has it. Readers lease messages; an SSE stream's leases return to the
 * front of the queue when it disconnects, a long poll's after `leaseMs` — the next reader gets them again
 * (`delivery` counts), nothing is lost. Memory is bounded by the SDK: it hands the handler at most
 * `maxInFlight` copies per consumer and leaves the rest in JetStream.
 */
export class Inbox {
  readonly #held = new Map<string, Held>();
  readonly #ready: Held[] = [];
  readonly #waiting = new Set<() => void>();
  readonly #leaseMs: number;
  #closed = false;

  constructor(o: { leaseMs: number }) {
    this.#leaseMs = o.leaseMs;
  }

  /** The consume handler: resolves when the message is acknowledged over HTTP. */
  readonly handler = (msg: ReceivedMessage): Promise<void> => {
    if (this.#closed) return Promise.reject(new LiaisonError('ERR_TIMEOUT', 'the gateway is stopping; the message stays in JetStream'));
    const key = heldKey(msg.header.sender, msg.header.id);
    const known = this.#held.get(key);
    // The same message delivered again while held (a JetStream redelivery): settled with the one held.
    if (known) return new Promise<void>((resolve, reject) => void this.#alongside(known, resolve, reject));
    return new Promise<void>((settle, fail) => {
      const h: Held = { key, msg, deliveries: 0, settle, fail };
      this.#held.set(key, h);
      this.#push(h);
    });
  };

  /** Messages held (ready or leased). */
  get size(): number {
    return this.#held.size;
  }

  /** True once the gateway stops. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting for a reader. */
  get ready(): number {
    return this.#ready.length;
  }

  #alongside(h: Held, resolve: () => void, reject: (err: Error) => void): void {
    const { settle, fail } = h;
    h.settle = () => {
      settle();
      resolve();
    };
    h.fail = (err) => {
      fail(err);
      reject(err);
    };
  }

  #push(h: Held, front = false): void {
    if (front) this.#ready.unshift(h);
    else this.#ready.push(h);
    for (const wake of this.#waiting) wake();
  }

  /** A new lease for a reader; a long poll's lease expires after `leaseMs` (its messages go back to the queue). */
  lease(o: { expires: boolean }): Lease {
    const lease: Lease = { held: new Set() };
    if (o.expires) {
      lease.timer = setTimeout(() => this.release(lease), this.#leaseMs);
      lease.timer.unref();
    }
    return lease;
  }

  /**
   * Up to `max` ready messages for `lease`, waiting up to `waitMs` for the first (long poll / SSE);
   * `signal` aborts the wait (the reader went away).
   */
  async take(lease: Lease, max: number, waitMs: number, signal?: AbortSignal): Promise<InboxMessage[]> {
    if (this.#ready.length === 0 && waitMs > 0 && !this.#closed) await this.#wait(waitMs, signal);
    const out: InboxMessage[] = [];
    while (out.length < max && this.#ready.length > 0 && !signal?.aborted) {
      const h = this.#ready.shift()!;
      if (!this.#held.has(h.key) || h.lease) continue;
      h.lease = lease;
      h.deliveries++;
      lease.held.add(h.key);
      out.push(toInboxMessage(h));
    }
    return out;
  }

  #wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiting.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Acknowledge the message (sender, id): the SDK marks it handled and acknowledges it to JetStream.
   * ERR_GATEWAY_NOT_FOUND when no reader holds such a message (acknowledged already, or never delivered).
   */
  ack(sender: string, id: string): void {
    const h = this.#held.get(heldKey(sender, id));
    if (!h || !h.lease) throw new LiaisonError('ERR_GATEWAY_NOT_FOUND', `no delivered, unacknowledged message ${id} from ${sender}`, { sender, id });
    const lease = h.lease;
    lease.held.delete(h.key);
    this.#held.delete(h.key);
    h.settle();
    lease.wake?.();
  }

  /** A reader went away (stream closed, lease expired): what it held and did not acknowledge goes back to the front of the queue. */
  release(lease: Lease): number {
    if (lease.timer) clearTimeout(lease.timer);
    const back = [...lease.held].map((k) => this.#held.get(k)).filter((h): h is Held => h !== undefined && h.lease === lease);
    lease.held.clear();
    for (const h of back.reverse()) {
      h.lease = undefined;
      this.#push(h, true);
    }
    return back.length;
  }

  /** Stop: every held message is handed back to the SDK as not handled (it stays in JetStream, delivered again later). */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting) wake();
    const err = new LiaisonError('ERR_TIMEOUT', 'the gateway stopped before the message was acknowledged; it stays in JetStream');
    for (const h of this.#held.values()) h.fail(err);
    this.#held.clear();
    this.#ready.length = 0;
  }
}
