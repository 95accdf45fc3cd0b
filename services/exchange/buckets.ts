import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError } from '../sdk/errors.ts';
import { HANDLED_BUCKET, type BucketSpec } from '../sdk/policy/index.ts';
import { bucketChangesSubject } from '../sdk/subjects.ts';

/**
 * Create (or open, when it exists) one agency state bucket as the exchange administrator, with direct
 * get allowed (the agency reads its buckets only by direct get: it has no consumer rights, see
 * `bucketPermissions`). The agency itself cannot create, delete or reconfigure them. `replicas`: copies JetStream keeps
 * (3 in a cluster; an existing bucket with fewer is raised by `replicateStreams`).
 */
export async function provisionBucket(nc: NatsConnection, b: BucketSpec, replicas = 1): Promise<void> {
  try {
    if (b.kind === 'kv') {
      const followed = b.name !== HANDLED_BUCKET;
      await new Kvm(nc).create(b.bucket, { history: 1, allow_direct: true, replicas, ...(b.maxAgeMs ? { ttl: b.maxAgeMs } : {}), ...(followed ? { republish: changeNotices(b.bucket) } : {}) });
      if (b.maxAgeMs) await keepMaxAge(nc, `KV_${b.bucket}`, b.maxAgeMs);
    } else await new Objm(nc).create(b.bucket, { replicas });
    await allowDirect(nc, b.kind === 'kv' ? `KV_${b.bucket}` : `OBJ_${b.bucket}`);

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

/**
 * Each write to a KV bucket is republished (headers only) on the bucket's change subject, which its owner
 * imports: how an agency in its own account follows its bucket (see `bucketChangesSubject`). Set when the
 * bucket is created (nats-server 2.9 cannot add it to an existing stream); a bucket made before has no
 * notices, and its owner sees other replicas' writes only when it reads them.
 */
function changeNotices(bucket: string): { src: string; dest: string; headers_only: boolean } {
  return { src: `$KV.${bucket}.>`, dest: `${bucketChangesSubject(bucket)}.>`, headers_only: true };
}

/** A bucket made before (or by another tool) without direct get gets it: the agency has no other way to read it. */
async function allowDirect(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  if (info.config.allow_direct !== true) await jsm.streams.update(stream, { allow_direct: true });
}
