import type { Refusal, WorkflowMessage } from '../model.ts';

/** Body field readers: protobuf JSON omits default values, so absent means ''/0/false/[]. */
export function text(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  return typeof v === 'string' ? v : '';
}

export function flag(body: Record<string, unknown>, field: string): boolean {
  return body[field] === true;
}

export function count(body: Record<string, unknown>, field: string): number {
  const v = body[field];
  return typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
}

export function list(body: Record<string, unknown>, field: string): unknown[] {
  const v = body[field];
  return Array.isArray(v) ? v : [];
}

/** A timestamp field in milliseconds, or undefined when absent. */
export function time(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The lower-case tail of an enum name: REFERRAL_KIND_PROTECTION → protection (prefix given). */
export function enumTail(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase().replace(/_/g, '-') : value.toLowerCase();
}

/** Link by a body field naming the header id of an earlier message of the case, else by causation id. */
export function byReference(field: string): (m: WorkflowMessage) => { messageId?: string } {
  return (m) => {
    const id = text(m.body, field) || m.causationId;
    return id ? { messageId: id } : {};
  };
}

/** A KV-key-safe token for free text (course codes, references). */
export function keyToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url') || '_';
}

export function guardFail(reason: string): Refusal {
  return { code: 'ERR_WORKFLOW_GUARD', reason };
}

export const DAY = 86_400_000;
