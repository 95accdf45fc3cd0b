import type { NatsConnection } from '@nats-io/transport-node';
import { openMessage, type OpenContext, type ReceivedMessage } from '../envelope/open.ts';
import { asLiaisonError, LiaisonError, type ErrorCode } from '../errors.ts';
import { peekSubject } from '../subjects.ts';

/** Copies per peek answer at most. */
export const PEEK_MAX_COPIES = 200;
/** Bytes of envelopes (base64) per peek answer at most: well below nats-server's 1 MB payload limit. */
export const PEEK_MAX_BYTES = 512 * 1024;

/**
 * A peek request: where the caller stands on each of its consumers (stream sequence last seen; absent: after the
 * consumer's ack floor, or after the stream's last message with `fromNow`), how many, which types.
 */
export interface PeekRequest {
  cursors?: Record<string, number>;
  fromNow?: boolean;
  max?: number;
  types?: string[];
}

/** One stored copy as the exchange read it: the signed envelope and its NATS headers, unverified. */
export interface PeekedCopy {
  consumer: string;
  stream: string;
  seq: number;
  subject: string;
  storedAt: string;
  headers: [string, string][];
  /** The envelope bytes, base64. */
  data: string;
}

/** The answer: copies (oldest first), the cursors to ask from next, `more` when the page was cut; or an error. */
export type PeekReply = { ok: true; copies: PeekedCopy[]; cursors: Record<string, number>; more: boolean } | { ok: false; error: string };

/**
 * Ask the exchange for the copies the agency's own consumers would deliver, without acknowledging or moving
 * anything (`liaison tail`). Only the agency may publish on its peek subject, so it reads only its own.
 */
export async function peek(nc: NatsConnection, agency: string, req: PeekRequest, timeoutMs = 10_000): Promise<Extract<PeekReply, { ok: true }>> {
  let reply: PeekReply;
  try {
    reply = JSON.parse((await nc.request(peekSubject(agency), JSON.stringify(req), { timeout: timeoutMs })).string()) as PeekReply;
  } catch (err) {
    throw asLiaisonError(err, 'ERR_TIMEOUT', `the exchange did not answer the peek request on ${peekSubject(agency)} (is the exchange up and does it run this version?)`);
  }
  if (!reply.ok) {
    const [code, ...rest] = reply.error.split(': ');
    throw new LiaisonError(/^ERR_[A-Z_]+$/.test(code ?? '') ? (code as ErrorCode) : 'ERR_EXCHANGE', rest.join(': ') || reply.error);
  }
  return reply;
}

/** Verify a peeked copy as a delivery is verified (signature, directory, policy, tier, subject and headers). */
export function openPeeked(ctx: OpenContext, copy: PeekedCopy): ReceivedMessage {
  const headers = new Map<string, string>();
  for (const [k, v] of copy.headers) if (!headers.has(k.toLowerCase())) headers.set(k.toLowerCase(), v);
  const msg = openMessage(ctx, { subject: copy.subject, data: Buffer.from(copy.data, 'base64'), header: (n) => headers.get(n.toLowerCase()) });
  msg.delivery = { stream: copy.stream, consumer: copy.consumer, streamSeq: copy.seq, deliveryCount: 0 };
  return msg;
}
