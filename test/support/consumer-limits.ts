import { jetstreamManager } from '@nats-io/jetstream';
import type { TestFederation } from './federation.ts';

/** What a test changes on an agency's provisioned consumers. */
export interface ConsumerLimits {
  /** Redeliver after this long (provisioned: 30 s), so copies lost in a test come back within it. */
  ackWaitMs: number;
  /** Deliveries before a copy is dead-lettered. */
  maxDeliver?: number;
}

/**
 * Set `agency`'s consumers of `types` (all of them when omitted) to `limits`, as the exchange administrator — the
 * agency itself may not. The consumers are those the agency's SDK reads (its `consumerSpecs`).
 */
export async function setConsumerLimits(fed: TestFederation, agency: string, limits: ConsumerLimits, types?: string[]): Promise<void> {
  const probe = await fed.connect(agency);
  try {
    const jsm = await jetstreamManager(fed.exchange.admin);
    const config = { ack_wait: limits.ackWaitMs * 1_000_000, ...(limits.maxDeliver ? { max_deliver: limits.maxDeliver } : {}) };
    for (const c of probe.consumerSpecs(types)) await jsm.consumers.update(c.stream, c.name, config);
  } finally {
    await probe.close();
  }
}
