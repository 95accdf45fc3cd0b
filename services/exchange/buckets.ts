import { jetstreamManager } from '@nats-io/jetstream';
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
    if (b.kind === 'kv') {
      await new Kvm(nc).create(b.bucket, { history: 1, allow_direct: true, ...(b.maxAgeMs ? { ttl: b.maxAgeMs } : {}) });
      if (b.maxAgeMs) await keepMaxAge(nc, `KV_${b.bucket}`, b.maxAgeMs);
    } else await new Objm(nc).create(b.bucket);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot provision ${b.kind === 'kv' ? 'KV bucket' : 'object store'} ${b.bucket} for ${b.agency}`);
  }
}

/** An existing bucket follows a changed max age (a policy that lengthened a retention lengthens its records). */
async function keepMaxAge(nc: NatsConnection, stream: string, maxAgeMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const want = maxAgeMs * 1_000_000;
  if (info.config.max_age !== want) await jsm.streams.update(stream, { max_age: want });
}
