import type { LiaisonClient } from '../sdk/client/client.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { loadRegistryState, registryKey, saveRegistryState, type ConsumerPositions } from './persistence.ts';
import { REGISTRY_TYPES, startRegistry, type Registry } from './service.ts';
import { registryState } from './state.ts';

/** A registry that survives restarts. */
export interface DurableRegistry extends Registry {
  /** Write a snapshot now. */
  snapshot(): Promise<void>;
  /** What the start restored: records from the snapshot and consumers replayed. */
  readonly restored: { documents: number; persons: number; replayed: string[] };
}

/**
 * Run the registry with its state in STATE_DIR: load the last snapshot (compact indexes + the
 * stream positions it covers), ask the exchange to re-deliver only the tail after those positions,
 * then consume. Snapshots are written every `snapshotEveryMs` and on stop. The streams stay the
 * source of truth; a lost STATE_DIR means a full replay, never lost records.
 */
export async function runRegistry(o: {
  client: LiaisonClient;
  stateDir: string;
  snapshotEveryMs?: number;
  logger?: Logger;
  observe?: (msg: ReceivedMessage) => void;
}): Promise<DurableRegistry> {
  const logger = o.logger ?? silentLogger();
  const key = await registryKey(o.stateDir);
  const loaded = await loadRegistryState(o.stateDir, key);
  const state = loaded ?? { ...registryState(key), positions: {} as ConsumerPositions };
  // Every consumer the registry reads has a position (0 = nothing applied yet), so a consumer that
  // had no message before the snapshot is replayed from its start rather than skipped.
  for (const c of o.client.consumerSpecs(REGISTRY_TYPES)) state.positions[c.name] ??= 0;
  let replayed: string[] = [];
  if (loaded) {
    replayed = await o.client.replayFrom(Object.fromEntries(Object.entries(loaded.positions).map(([c, seq]) => [c, seq + 1])));
  }
  const positions = state.positions;
  const restored = { documents: loaded ? state.store.size : 0, persons: loaded ? state.persons.index.size : 0, replayed };
  const registry = await startRegistry({
    client: o.client,
    store: state.store,
    persons: state.persons,
    logger,
    observe: (msg) => {
      const d = msg.delivery;
      if (d && (positions[d.consumer] ?? 0) < d.streamSeq) positions[d.consumer] = d.streamSeq;
      o.observe?.(msg);
    },
  });
  const snapshot = () => saveRegistryState(o.stateDir, { store: state.store, persons: state.persons, positions });
  const timer = o.snapshotEveryMs ? setInterval(() => void snapshot().catch((err: unknown) => logger.warn({ err }, 'snapshot failed')), o.snapshotEveryMs) : undefined;
  timer?.unref();
  logger.info({ documents: state.store.size, persons: state.persons.index.size, replayed: replayed.length }, loaded ? 'registry restored from snapshot' : 'registry started empty');
  const stopService = registry.stop;
  return Object.assign(registry, {
    snapshot,
    restored,
    async stop() {
      if (timer) clearInterval(timer);
      await stopService();
      await snapshot();
    },
  });
}
