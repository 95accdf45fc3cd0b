import type { Export, Import } from '@nats-io/jwt';
import { AGENCY_JS_API, SUBJECT_ROOT } from '../sdk/subjects.ts';
import type { NatsPermissions } from './nats-accounts.ts';

/**
 * What crosses between NATS accounts. Each agency has an account of its own; the exchange account holds
 * JetStream (streams, consumers, buckets), the exchange's services and the audit. An agency reaches exactly
 * what its compiled permissions name, each as an import from the exchange account; the exchange reaches a
 * serving agency's request subjects as an import from that agency. Imports are signed by the operator (the
 * trust directory), never by an agency, so the exports can be public.
 *
 * Why accounts at all: nats-server 2.9 delivers whatever a service — JetStream included — answers to the reply
 * subject the requester named, within the account. In one shared account an agency pulling from its own
 * consumer with reply `$JS.API.STREAM.PURGE.<stream>` had JetStream purge that stream. Across accounts, the
 * answer to an imported request returns to the requester's own account only.
 */

/** Service exports of the exchange account (public; what an agency may import is decided by its account JWT). */
export const EXCHANGE_SERVICE_EXPORTS: readonly Export[] = [
  { name: 'pull', subject: '$JS.API.CONSUMER.MSG.NEXT.>', type: 'service', response_type: 'Stream' },
  { name: 'consumer-info', subject: '$JS.API.CONSUMER.INFO.>', type: 'service' },
  { name: 'stream-info', subject: '$JS.API.STREAM.INFO.>', type: 'service' },
  { name: 'message-get', subject: '$JS.API.STREAM.MSG.GET.>', type: 'service' },
  { name: 'direct-get', subject: '$JS.API.DIRECT.GET.>', type: 'service' },
  { name: 'purge', subject: '$JS.API.STREAM.PURGE.>', type: 'service' },
  { name: 'ack', subject: '$JS.ACK.>', type: 'service' },
  { name: 'kv', subject: '$KV.>', type: 'service' },
  { name: 'objects', subject: '$O.>', type: 'service' },
  { name: 'liaison', subject: `${SUBJECT_ROOT}.>`, type: 'service' },
];

/** Stream exports of the exchange account: what agencies may subscribe to (status pings, directory pushes). */
export const EXCHANGE_STREAM_EXPORTS: readonly Export[] = [{ name: 'liaison-events', subject: `${SUBJECT_ROOT}.>`, type: 'stream' }];

const SERVICE_REQUESTS = `${SUBJECT_ROOT}.svc.`;

/** The exchange-account subject an agency-local publish subject reaches (undefined: it stays in the agency's account). */
export function remoteOfLocal(local: string): string | undefined {
  if (local.startsWith(`${AGENCY_JS_API}.$KV.`)) return local.slice(AGENCY_JS_API.length + 1);
  if (local.startsWith(`${AGENCY_JS_API}.`)) return `$JS.API.${local.slice(AGENCY_JS_API.length + 1)}`;
  if (local.startsWith('$JS.ACK.') || local.startsWith('$O.') || local.startsWith(`${SUBJECT_ROOT}.`)) return local;
  return undefined;
}

/**
 * An agency account's imports, derived from its compiled permissions: every subject it may publish that
 * leaves its account is a service import from the exchange (so answers come back to it alone); the
 * exchange's subjects it may subscribe to are stream imports. Its inbox and the request subjects it serves
 * (which arrive through the exchange's imports) import nothing.
 */
export function agencyImports(perms: NatsPermissions, exchangeAccount: string): Import[] {
  const out: Import[] = [];
  for (const local of perms.pub.allow) {
    const remote = remoteOfLocal(local);
    if (remote === undefined) continue;
    out.push({ name: local, subject: remote, ...(remote === local ? {} : { local_subject: local }), account: exchangeAccount, type: 'service' });
  }
  for (const s of perms.sub.allow) {
    if (s.startsWith('_INBOX') || s.startsWith(SERVICE_REQUESTS)) continue;
    out.push({ name: s, subject: s, account: exchangeAccount, type: 'stream' });
  }
  return out;
}

/** A serving agency's exports: the request subjects it serves (`liaison.v1.svc.<family>.<Type>.*`), for the exchange to import. */
export function agencyExports(perms: NatsPermissions): Export[] {
  return perms.sub.allow.filter((s) => s.startsWith(SERVICE_REQUESTS)).map((s) => ({ name: s, subject: s, type: 'service' as const }));
}

/**
 * The exchange account's imports: each serving agency's request subjects, from that agency's account. The
 * exchange re-exports them to the requesting agencies, and its audit sees every request on the way.
 * A subject served by two agencies cannot be routed: the first (by agency id) keeps it, and the conflict is returned.
 */
export function exchangeImports(serving: readonly { agency: string; account: string; exports: readonly Export[] }[]): { imports: Import[]; conflicts: string[] } {
  const bySubject = new Map<string, Import>();
  const conflicts: string[] = [];
  for (const s of [...serving].sort((a, b) => (a.agency < b.agency ? -1 : a.agency > b.agency ? 1 : 0))) {
    for (const e of s.exports) {
      if (e.type !== 'service') continue;
      if (bySubject.has(e.subject)) conflicts.push(`${e.subject} (${s.agency})`);
      else bySubject.set(e.subject, { name: `${s.agency}:${e.subject}`, subject: e.subject, account: s.account, type: 'service' });
    }
  }
  return { imports: [...bySubject.values()], conflicts };
}
