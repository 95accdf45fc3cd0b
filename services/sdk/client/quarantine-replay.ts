import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { systemClock, type Clock } from '../clock.ts';
import type { SigningKey } from '../envelope/jws.ts';
import { msgIdTagKey } from '../envelope/msg-id-tag.ts';
import { asLiaisonError, ERROR_CODES, LiaisonError, type ErrorCode } from '../errors.ts';
import { quarantineServiceSubject, quarantineSubject } from '../subjects.ts';
import { handledKey } from './handled.ts';
import { quarantineMsgId } from './quarantine.ts';
import { reopenEntry } from './quarantine-record.ts';
import { QUARANTINE_HEADERS, replayable, replicaOfConsumer, type ListedCopy } from './quarantine-entry.ts';

/**
 * Listing and replaying an agency's own quarantine, with the agency's own rights only:
 * - the list comes from the exchange's quarantine service on the agency's own request subject (it answers
 *   with that agency's entries only);
 * - a replay re-opens the entry in the agency's own handled record (`quarantined` → `free`: the operator's
 *   decision to hand it once more), has the exchange reset the agency's own consumer to the copy's stream
 *   sequence (the replay service), and writes a replay marker on the agency's own quarantine subject.
 * The copy that reaches the handler is the original stored one, verified again by the receiver's normal
 * path; the handled record lets it through exactly once (every other copy the reset re-delivers is `done` or
 * `quarantined`, acknowledged without the handler); a second replay finds the entry replayed, or `done`.
 */

/** What the replay needs of a connected agency (a {@link LiaisonClient}). */
export interface QuarantineHost {
  readonly id: string;
  readonly nc: NatsConnection;
  /** The agency's signing key: its replay markers' de-duplication ids carry its tag (msg-id-tag.ts). */
  readonly identity: { readonly key: SigningKey };
  replayFrom(positions: Record<string, number>): Promise<string[]>;
}

/** Which entries to replay: one message (`id` and `sender`), or all waiting (optionally of one refusal code). */
export type ReplaySelection = { id: string; sender: string } | { all: true; code?: string };

/** What a replay did. */
export interface ReplayResult {
  /** Re-opened and re-delivered: the handler gets each once. */
  replayed: ListedCopy[];
  /** Handled since it was quarantined (its record says done): marked replayed, not delivered again. */
  alreadyHandled: ListedCopy[];
  /** Not replayed, and why. */
  skipped: { copy: ListedCopy; why: string }[];
  /** The consumers the exchange reset. */
  consumers: string[];
}

const REQUEST_TIMEOUT_MS = 10_000;

async function askExchange(host: Pick<QuarantineHost, 'id' | 'nc'>, body: object, timeoutMs = REQUEST_TIMEOUT_MS): Promise<{ entries: ListedCopy[]; more: boolean }> {
  let text: string;
  try {
    text = (await host.nc.request(quarantineServiceSubject(host.id), JSON.stringify(body), { timeout: timeoutMs })).string();
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'the exchange did not answer the quarantine request');
  }
  let reply: { ok: boolean; entries?: ListedCopy[]; more?: boolean; error?: string };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch (err) {
    throw new LiaisonError('ERR_EXCHANGE', `the exchange's quarantine answer is not JSON: ${text.slice(0, 120)}`, {}, { cause: err });
  }
  if (!reply.ok) {
    const code = String(reply.error).split(':')[0]!;
    throw new LiaisonError(code in ERROR_CODES ? (code as ErrorCode) : 'ERR_EXCHANGE', String(reply.error));
  }
  return { entries: reply.entries ?? [], more: reply.more === true };
}

/** The agency's own quarantine, oldest first: what waits (and, with `replayed`, what was replayed too). */
export async function listQuarantine(host: Pick<QuarantineHost, 'id' | 'nc'>, o: { replayed?: boolean; timeoutMs?: number } = {}): Promise<ListedCopy[]> {
  const out: ListedCopy[] = [];
  for (let after = 0; ; ) {
    const page = await askExchange(host, { after, replayed: o.replayed === true }, o.timeoutMs);
    out.push(...page.entries);
    if (!page.more || page.entries.length === 0) return out;
    after = page.entries.at(-1)!.seq;
  }
}

function selected(c: ListedCopy, sel: ReplaySelection): boolean {
  return 'all' in sel ? sel.code === undefined || c.code === sel.code : c.id === sel.id && c.sender === sel.sender;
}

/** Why an entry cannot be replayed, or undefined when it can. */
function whyNot(c: ListedCopy): string | undefined {
  if (c.code !== 'ERR_IN_DOUBT' && c.code !== 'ERR_DEAD_LETTER') return `${c.code}: refused before it reached the handler; a replay would refuse it again`;
  if (!replayable(c)) return 'quarantined without where it was delivered from (before this version): cannot be re-delivered';
  if (c.available === false) return `its original is no longer on ${c.from!.stream} (expired, retracted or purged)`;
  return undefined;
}

/**
 * Write the operator's decision on the agency's own quarantine subject, de-duplicated per entry by an
 * id of the agency's own ({@link quarantineMsgId}): every agency's quarantine is one stream, and a bare
 * `replayed <seq>` let another agency store a marker first under it and so suppress this one.
 */
async function markReplayed(host: QuarantineHost, c: ListedCopy, outcome: string): Promise<void> {
  const h = natsHeaders();
  h.set(QUARANTINE_HEADERS.replayOf, String(c.seq));
  h.set(QUARANTINE_HEADERS.replayOutcome, outcome);
  if (c.sender) h.set(QUARANTINE_HEADERS.sender, c.sender);
  if (c.id) h.set(QUARANTINE_HEADERS.id, c.id);
  await jetstream(host.nc).publish(quarantineSubject(host.id), new Uint8Array(0), { headers: h, msgID: quarantineMsgId(host.id, { kind: 'replayed', sender: c.sender ?? '-', id: String(c.seq) }, msgIdTagKey(host.identity.key.privateKey)) });
}

/**
 * Re-open the chosen entries in the handled record (one record per replica of the agency's services). Each entry is
 * named by its key alone: no record is opened (one opened per replay and left open followed the agency's connection for
 * as long as it lived, two status listeners and a subscription per replay).
 */
async function reopenAll(host: QuarantineHost, chosen: ListedCopy[], clock: Clock, r: ReplayResult): Promise<ListedCopy[]> {
  const reopened: ListedCopy[] = [];
  for (const c of chosen) {
    const why = whyNot(c);
    if (why || !replayable(c)) {
      r.skipped.push({ copy: c, why: why ?? 'not replayable' });
      continue;
    }
    const replica = replicaOfConsumer(c.from.consumer);
    const state = await reopenEntry(host.nc, host.id, handledKey(c.sender, c.id, replica), clock).catch((err: unknown) => {
      throw asLiaisonError(err, 'ERR_HANDLED_RECORD', `cannot re-open ${c.sender} ${c.id} in the handled record of ${host.id}`);
    });
    if (state === 'done') r.alreadyHandled.push(c);
    else if (state === 'busy') r.skipped.push({ copy: c, why: 'its record holds a claim (a receiver is handling it, or handled it since): not re-opened' });
    else reopened.push(c);
  }
  return reopened;
}

/**
 * Replay the selected entries of the agency's own quarantine (see the module comment). Entries that are not
 * waiting (replayed already) are not selected: a second replay of the same entry hands nothing.
 */
export async function replayQuarantined(host: QuarantineHost, sel: ReplaySelection, o: { clock?: Clock } = {}): Promise<ReplayResult> {
  const r: ReplayResult = { replayed: [], alreadyHandled: [], skipped: [], consumers: [] };
  const chosen = (await listQuarantine(host)).filter((c) => selected(c, sel));
  const reopened = await reopenAll(host, chosen, o.clock ?? systemClock, r);
  const positions: Record<string, number> = {};
  for (const c of reopened) positions[c.from!.consumer] = Math.min(positions[c.from!.consumer] ?? Infinity, c.from!.streamSeq);
  if (reopened.length > 0) r.consumers = await host.replayFrom(positions);
  for (const c of reopened) {
    await markReplayed(host, c, 'replayed');
    r.replayed.push(c);
  }
  for (const c of r.alreadyHandled) await markReplayed(host, c, 'already-handled');
  return r;
}
