/**
 * Case aliases written before a message was (sender, id): they were keyed `alias.<message id>`; they
 * are now `alias.<sender>.<message id>` (CaseStore). An alias holds only the case key, so its sender is
 * read from that case: the actor of the timeline step that applied the message. An entry is old when
 * the rest of its key is the id of a step of its case, current when it is `<actor>.<id>` of one (or,
 * when no step names it, has a dot: old keys held a UUIDv7 alone). An entry that reads both ways, or
 * names a case no longer there, is left in place and reported, never guessed at.
 *
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ReadGate } from '../sdk/client/read-gate.ts';
import type { Logger } from '../sdk/logging.ts';
import type { KvReader } from '../sdk/state/kv-reader.ts';
import { agencyBucket, rekey, type RekeyCounts, type RekeyEntry, type RekeyVerdict } from '../sdk/state/rekey.ts';
import type { CaseRecord } from './model.ts';

/** Key prefix of the aliases in the case bucket (as CaseStore writes them). */
const ALIAS = 'alias.';
const decoder = new TextDecoder();

/**
 * The case an alias names, or why it cannot be used. A read that failed fails the migration (the start): taken for a
 * case not there, it would leave the alias unmoved, reported as unresolved.
 */
async function caseOf(reader: Pick<KvReader, 'get'>, key: string): Promise<CaseRecord | string> {
  const v = await reader.get(key);
  if (!v?.value || v.value.length === 0) return `its case ${key} is not in the bucket`;
  try {
    return JSON.parse(decoder.decode(v.value)) as CaseRecord;
  } catch {
    return `its case ${key} is not JSON`;
  }
}

/** What an entry under `alias.` is: current, or old with the key it moves to (the sender read from its case). */
export async function planAlias(reader: Pick<KvReader, 'get'>, e: RekeyEntry): Promise<RekeyVerdict> {
  const rest = e.key.slice(ALIAS.length);
  const c = await caseOf(reader, decoder.decode(e.value));
  if (typeof c === 'string') return { kind: 'unresolved', why: c };
  const steps = c.timeline ?? [];
  const current = steps.some((s) => `${s.actor}.${s.messageId}` === rest);
  const actors = [...new Set(steps.filter((s) => s.messageId === rest).map((s) => s.actor))];
  if (current && actors.length > 0) return { kind: 'unresolved', why: 'the key reads both as an old and as a current alias' };
  if (current) return { kind: 'current' };
  if (actors.length === 1) return { kind: 'move', to: `${ALIAS}${actors[0]}.${rest}` };
  if (actors.length > 1) return { kind: 'unresolved', why: `the case applied messages ${rest} of several senders (${actors.join(', ')})` };
  // No step names it (a timeline may have been cut): `<sender>.<id>` is a current alias; an old one has no dot.
  return rest.includes('.') ? { kind: 'current' } : { kind: 'unresolved', why: 'its case applied no message with this id' };
}

/**
 * Move every old-format alias of the case bucket to its (sender, id) key; idempotent, bounded, logged with counts.
 * Each request — every step of the scan, every read of a case an alias names, every create and delete — goes through a
 * {@link ReadGate} (issue 16), as the centre's facts migration does: one whose answer a dropped connection lost is made
 * again at the reconnect, at once, so a drop during the registry's start delays it instead of failing it after
 * nats.js's timeout (or, for a case read, leaving its alias unmoved as if the case were gone); asked while the
 * connection is down, it waits for the reconnect. Only a connection closed for good fails it.
 */
export async function migrateCaseAliases(nc: NatsConnection, bucket: string, logger?: Logger): Promise<RekeyCounts> {
  const gate = new ReadGate(nc, 'ERR_EXCHANGE');
  try {
    const across = async <T>(what: string, request: () => Promise<T>) => await gate.readAcross(what, request);
    // Old keys are `alias.<UUIDv7>`, one token; current ones `alias.<sender>.<id>`: only old ones are read.
    const { entries, target, reader } = await agencyBucket(nc, bucket, `${ALIAS}*`, across);
    const cases = { get: async (key: string) => await across(`the case ${key} of ${bucket} (named by an alias)`, () => reader.get(key)) };
    return await rekey({ what: 'case aliases', entries, target, plan: (e) => planAlias(cases, e), logger });
  } finally {
    gate.close();
  }
}
