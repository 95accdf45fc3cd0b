import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import type { BucketSpec } from '../sdk/policy/index.ts';

/**
 * Create (or open, when it exists) one agency state bucket as the exchange administrator. The agency
 * itself has rights on its buckets' data and ordered consumers only, so it cannot create them.
 */
export async function provisionBucket(nc: NatsConnection, b: BucketSpec): Promise<void> {
  try {
    if (b.kind === 'kv') await new Kvm(nc).create(b.bucket, { history: 1 });
    else await new Objm(nc).create(b.bucket);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot provision ${b.kind === 'kv' ? 'KV bucket' : 'object store'} ${b.bucket} for ${b.agency}`);
  }
}
