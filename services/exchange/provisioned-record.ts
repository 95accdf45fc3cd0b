/**
 * The durable consumers the exchange has provisioned, recorded in its state bucket (`LIAISON_EXCHANGE`, key
 * `consumers`): how a provisioning by name finds what an earlier policy granted and the current one no longer does —
 * without listing every stream's consumers (on a cluster with a node down, nats-server 2.9 answers each consumer
 * listing only after waiting ≈ 4 s for the consumers the dead node hosted). The record is a superset of what may exist:
 * a provisioning adds what it is about to create before creating it, and drops only what it has deleted.
 *
 * Consumers made by anything else (by hand, an older Liaison that kept no record) are found only by a listing: `liaison
 * doctor` reports them, the full reconcile ({@link provisionExchange}: `liaison exchange reconcile`,
 * `reprovision({ full: true })`) deletes them.
 *
 * @module
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { EXCHANGE_STATE_BUCKET } from './enforced.ts';
import { retryTransient } from './replicas.ts';

/** The key of the record in {@link EXCHANGE_STATE_BUCKET}. */
export const PROVISIONED_CONSUMERS_KEY = 'consumers';

/** A durable consumer of the exchange account: its stream and name. */
export interface ConsumerRef {
  stream: string;
  name: string;
}

/** `stream/name` of a consumer (the record's entries). */
export const consumerKey = (c: ConsumerRef): string => `${c.stream}/${c.name}`;

/** The recorded consumers (`stream/name`), or undefined when the exchange never recorded any (new, or provisioned by an older Liaison). */
export async function readProvisionedConsumers(nc: NatsConnection): Promise<Set<string> | undefined> {
  const kv = await retryTransient(() => new Kvm(nc).open(EXCHANGE_STATE_BUCKET)).catch(() => undefined);
  if (!kv) return undefined;
  // The bucket does not exist yet on a new exchange (opening it does not ask).
  const e = await retryTransient(() =>
    kv.get(PROVISIONED_CONSUMERS_KEY).catch((err: unknown) => {
      if (/stream not found/i.test((err as Error).message)) return null;
      throw err;
    }),
  );
  if (!e || e.operation !== 'PUT' || e.value.length === 0) return undefined;
  try {
    const keys = JSON.parse(e.string()) as unknown;
    return Array.isArray(keys) ? new Set(keys.filter((k): k is string => typeof k === 'string')) : undefined;
  } catch {
    return undefined;
  }
}

/** Record `keys` (`stream/name`) as the consumers the exchange may have provisioned. The bucket must exist. */
export async function recordProvisionedConsumers(nc: NatsConnection, keys: Iterable<string>): Promise<void> {
  try {
    const kv = await retryTransient(() => new Kvm(nc).open(EXCHANGE_STATE_BUCKET));
    const value = JSON.stringify([...new Set(keys)].sort());
    await retryTransient(() => kv.put(PROVISIONED_CONSUMERS_KEY, value));
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', 'cannot record the provisioned consumers in the exchange state bucket');
  }
}
