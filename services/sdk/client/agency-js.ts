import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENCY_JS_API } from '../subjects.ts';

/**
 * The exchange's JetStream as an agency reaches it from its own NATS account: through the imports under
 * {@link AGENCY_JS_API}, without the account-wide API check (an agency may call only its own consumers and
 * buckets). Every agency-side JetStream, KV and object-store client is built on this.
 */
export function agencyJetStream(nc: NatsConnection): JetStreamClient {
  return jetstream(nc, { apiPrefix: AGENCY_JS_API, checkAPI: false });
}

/** The JetStream manager API as an agency reaches it (stream info, direct get on its own buckets). */
export async function agencyJetStreamManager(nc: NatsConnection): Promise<JetStreamManager> {
  return await jetstreamManager(nc, { apiPrefix: AGENCY_JS_API, checkAPI: false });
}
