import { LiaisonError } from '../sdk/errors.ts';
import type { SendOptions } from '../sdk/envelope/seal.ts';
import { HANDLING_CODES, TLP_LABELS, type HandlingCode, type TlpLabel } from '../sdk/tier.ts';

/** A query's values as fastify parses them (strings; repeated keys as arrays). */
export type Query = Record<string, string | string[] | undefined>;

/** One string query value (ERR_USAGE when repeated). */
export function queryString(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new LiaisonError('ERR_USAGE', `query parameter ${name} is given more than once`);
  return v === undefined || v === '' ? undefined : v;
}

/** An integer query value in [min, max] (ERR_USAGE otherwise). */
export function queryInt(q: Query, name: string, min: number, max: number, fallback: number): number {
  const v = queryString(q, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new LiaisonError('ERR_USAGE', `query parameter ${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

function oneOf<T extends string>(q: Query, name: string, allowed: readonly T[]): T | undefined {
  const v = queryString(q, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new LiaisonError('ERR_USAGE', `query parameter ${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** The send options of a send call's query (`to`, `handling`, `tlp`, `caseRef`, `correlationId`, `causationId`, `expiresAt`). */
export function sendOptionsOf(q: Query): SendOptions {
  const known = new Set(['to', 'handling', 'tlp', 'caseRef', 'correlationId', 'causationId', 'expiresAt']);
  const unknown = Object.keys(q).filter((k) => !known.has(k));
  if (unknown.length) throw new LiaisonError('ERR_USAGE', `unknown query parameter ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  const expires = queryString(q, 'expiresAt');
  const expiresAt = expires === undefined ? undefined : new Date(expires);
  if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new LiaisonError('ERR_USAGE', `query parameter expiresAt must be an ISO 8601 time, got "${expires}"`);
  const o: SendOptions = {
    to: queryString(q, 'to'),
    handling: oneOf<HandlingCode>(q, 'handling', HANDLING_CODES),
    tlp: oneOf<TlpLabel>(q, 'tlp', TLP_LABELS),
    caseRef: queryString(q, 'caseRef'),
    correlationId: queryString(q, 'correlationId'),
    causationId: queryString(q, 'causationId'),
    expiresAt,
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as SendOptions;
}
