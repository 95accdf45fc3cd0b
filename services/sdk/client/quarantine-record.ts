import { Kvm, type KV } from '@nats-io/kv';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../clock.ts';
import { asLiaisonError, LiaisonError } from '../errors.ts';
import { HANDLED_BUCKET } from '../policy/compile.ts';
import { agencyJsApi, bucketName } from '../subjects.ts';
import { agencyJetStream } from './agency-js.ts';

/**
 * The quarantine's two writes in an agency's handled record (handled.ts keeps the record; its entries are
 * `<state> <at> …`, the state first): a dead-lettered copy's released claim becomes `quarantined`, so no later
 * redelivery — a consumer reset replaying another entry — hands it to the handler; and the operator's decision
 * to replay an entry turns `quarantined` into `free`, so the copy's next delivery is claimed and handled once.
 * Both are compare-and-set writes through the agency's own import of its own bucket; `key` is
 * `HandledRecord.keyOf(sender, id)` of the replica whose consumer delivered the copy.
 */

const encoder = new TextEncoder();
const ATTEMPTS = 4;
const TIMEOUT_MS = 5_000;

async function openRecord(nc: NatsConnection, agency: string): Promise<KV> {
  return await new Kvm(agencyJetStream(nc)).open(bucketName(agency, HANDLED_BUCKET), { allow_direct: true });
}

/** Write `<state> <now>` at `key` if its last revision is `revision`; false when another writer came first. */
async function compareAndSet(nc: NatsConnection, agency: string, key: string, state: string, revision: number, clock: Clock): Promise<boolean> {
  const h = natsHeaders();
  h.set('Nats-Expected-Last-Subject-Sequence', String(revision));
  let reply: { seq?: number; error?: { err_code?: number; description?: string } };
  let text: string;
  try {
    text = (await nc.request(agencyJsApi(`$KV.${bucketName(agency, HANDLED_BUCKET)}.${key}`), encoder.encode(`${state} ${clock.now()}`), { headers: h, timeout: TIMEOUT_MS })).string();
    reply = JSON.parse(text) as typeof reply;
  } catch (err) {
    throw asLiaisonError(err, 'ERR_HANDLED_RECORD', `cannot write ${key}`);
  }
  if (reply.seq !== undefined) return true;
  if (reply.error?.err_code === 10071 || reply.error?.err_code === 10164) return false;
  throw new LiaisonError('ERR_HANDLED_RECORD', `cannot write ${key}: ${reply.error?.description ?? text}`, { key });
}

/** A released (`free`) entry of a dead-lettered copy becomes `quarantined`; any other state is left alone. */
export async function markDeadLettered(nc: NatsConnection, agency: string, key: string, clock: Clock): Promise<void> {
  const kv = await openRecord(nc, agency);
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT' || e.string().split(' ')[0] !== 'free') return;
  await compareAndSet(nc, agency, key, 'quarantined', e.revision, clock);
}

/**
 * Re-open a quarantined entry for one more delivery to the handler: `quarantined` → `free` (`free` or no entry:
 * nothing to write). `done` (handled since) and `claim` (a receiver holds it, or — with done marks batched — handled
 * it since) are left alone and reported.
 */
export async function reopenEntry(nc: NatsConnection, agency: string, key: string, clock: Clock): Promise<'reopened' | 'done' | 'busy'> {
  const kv = await openRecord(nc, agency);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') return 'reopened';
    const state = e.string().split(' ')[0];
    if (state === 'done') return 'done';
    if (state === 'claim') return 'busy';
    if (state === 'free') return 'reopened';
    if (await compareAndSet(nc, agency, key, 'free', e.revision, clock)) return 'reopened';
  }
  throw new LiaisonError('ERR_HANDLED_RECORD', `cannot reopen ${key}: other writers keep changing it`, { key });
}
