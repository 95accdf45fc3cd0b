import type { LiaisonClient } from '../sdk/client/client.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import { asLiaisonError } from '../sdk/errors.ts';
import { silentLogger, type Logger } from '../sdk/logging.ts';
import { agencyBuckets } from '../sdk/policy/index.ts';
import { writeRegistryFigures, type RegistryFigures } from './figures.ts';
import { loadRegistryState, registryKey, saveRegistryState, type ConsumerPositions, type OnSnapshotProgress, type SavedSnapshot } from './persistence.ts';
import type { AdmissionConfig } from './admission.ts';
import { REGISTRY_TYPES, startRegistry, type Registry } from './service.ts';
import { fileSnapshotStore, objectSnapshotStore, type SnapshotStore } from './snapshot-store.ts';
import { settleBy } from '../sdk/settle-by.ts';
import { registryState } from './state.ts';

/** The policy's name of the registry's snapshot object store (`state: { objects: [snapshots] }`). */
export const SNAPSHOT_BUCKET = 'snapshots';

/**
 * How long after a stop signal the CLI gives the registry's final snapshot (services/cli/commands/registry.ts): the
 * rest of the 4 s stop bound is kept for closing the connection. A snapshot not written by then is skipped.
 */
export const FINAL_SNAPSHOT_WITHIN_MS = 2_500;

/** What a registry's stop did with its final snapshot: written, or skipped (and why). */
export interface RegistryStopped {
  snapshot: 'written' | 'skipped';
  /** Why it was skipped: the deadline came first, or the write failed (with its code). */
  skipped?: string;
}

/** A registry that survives restarts. */
export interface DurableRegistry extends Omit<Registry, 'stop'> {
  /**
   * Stop answering checks and write a final snapshot, by the epoch-ms deadline `by` when given. The snapshot is
   * an optimisation (a restart loads the last one written and replays the stream after it), so one not written
   * by the deadline (a stalled server), or that fails, is skipped with a warning rather than holding the stop.
   */
  stop(o?: { by?: number }): Promise<RegistryStopped>;
  /** Write a snapshot now (one at a time: a call while one is being written waits for it, then writes). */
  snapshot(): Promise<SavedSnapshot>;
  /** The figures `liaison registry stats` prints, as of now. */
  figures(): RegistryFigures;
  /** Where the snapshots go. */
  readonly snapshotStore: SnapshotStore;
  /** What the start restored: records from the snapshot and consumers replayed, or why the snapshot was refused. */
  readonly restored: { documents: number; persons: number; replayed: string[]; snapshotRefused?: string; loadMs?: number };
}

/**
 * The agency's snapshot store: its `<agency>_snapshots` object store when the policy gives one of its
 * roles `state: { objects: [snapshots] }`, else files in `stateDir`.
 */
export async function defaultSnapshotStore(client: LiaisonClient, stateDir: string): Promise<SnapshotStore> {
  const bucket = agencyBuckets(client.policy, client.id).find((b) => b.kind === 'objects' && b.name === SNAPSHOT_BUCKET);
  return bucket ? await objectSnapshotStore(client.nc, bucket.bucket) : fileSnapshotStore(stateDir);
}

/**
 * Run the registry: load this replica's last snapshot (compact keyed-hash indexes + the stream
 * positions they cover) from the agency's object store, ask the exchange to re-deliver only the tail
 * after those positions, then consume. Without a usable snapshot (none, corrupt, made by another
 * replica or under another key: logged with its code) every consumer is replayed from the start. The
 * hashing key stays in STATE_DIR/registry.key (0600) and never goes into the store. Snapshots are
 * written every `snapshotEveryMs` and on stop; figures every `figuresEveryMs` (default 10 s).
 */
export async function runRegistry(o: {
  client: LiaisonClient;
  stateDir: string;
  /** Where snapshots go (default: {@link defaultSnapshotStore}). */
  snapshotStore?: SnapshotStore;
  snapshotEveryMs?: number;
  figuresEveryMs?: number;
  logger?: Logger;
  observe?: (msg: ReceivedMessage) => void;
  /**
   * Hears snapshot loads and writes as they go (at most every 250 ms, and once at the end): the CLI shows it as a
   * progress line. Progress is also logged (info, `registry snapshot progress`) until the end, which has its own line.
   */
  onSnapshotProgress?: OnSnapshotProgress;
  /** At most one progress report per this many ms (default 250). */
  snapshotProgressEveryMs?: number;
  /** Bounded admission of checks (default: 256 in process, 4 s of waiting): beyond it a check is refused busy, with the signed busy statement. */
  admission?: AdmissionConfig;
}): Promise<DurableRegistry> {
  const { client } = o;
  const logger = (o.logger ?? silentLogger()).child({ service: 'registry', replica: client.replica });
  const progress = {
    onProgress: ((p) => {
      if (p.records < p.total) logger.info({ phase: p.phase, records: p.records, total: p.total, bytes: p.bytes, totalBytes: p.totalBytes }, 'registry snapshot progress');
      o.onSnapshotProgress?.(p);
    }) satisfies OnSnapshotProgress,
    everyMs: o.snapshotProgressEveryMs,
  };
  const startedAt = new Date().toISOString();
  const key = await registryKey(o.stateDir);
  const store = o.snapshotStore ?? (await defaultSnapshotStore(client, o.stateDir));
  const who = { agency: client.id, replica: client.replica };
  const consumers = client.consumerSpecs(REGISTRY_TYPES).map((c) => c.name);
  let loaded: Awaited<ReturnType<typeof loadRegistryState>>;
  let snapshotRefused: string | undefined;
  try {
    loaded = await loadRegistryState(store, key, { ...who, consumers: new Set(consumers) }, progress);
  } catch (err) {
    const e = asLiaisonError(err, 'ERR_DECODE');
    snapshotRefused = `${e.code}: ${e.message}`;
    logger.warn({ code: e.code, store: store.where, err: e.message }, 'registry snapshot not usable: replaying every consumer from the start');
  }
  const state = loaded?.state ?? { ...registryState(key), positions: {} as ConsumerPositions };
  // Every consumer the registry reads has a position (0 = nothing applied yet), so a consumer that
  // had no message before the snapshot is replayed from its start rather than skipped.
  for (const c of consumers) state.positions[c] ??= 0;
  // Forgery-alert ranges (AlertedRanges) are not in the snapshot: their consumers are replayed from the start on every start.
  for (const c of client.consumerSpecs(['ForgeryAlert'])) state.positions[c.name] = 0;
  // Without a snapshot the durable consumers may already be past messages an earlier run applied: start them over.
  const replayed = await client.replayFrom(Object.fromEntries(consumers.map((c) => [c, (state.positions[c] ?? 0) + 1])));
  const positions = state.positions;
  const restored = {
    documents: loaded ? state.store.size : 0,
    persons: loaded ? state.persons.index.size : 0,
    replayed,
    ...(snapshotRefused ? { snapshotRefused } : {}),
    ...(loaded ? { loadMs: Math.round(loaded.ms) } : {}),
  };
  const registry = await startRegistry({
    client,
    store: state.store,
    persons: state.persons,
    logger: o.logger,
    admission: o.admission,
    observe: (msg) => {
      const d = msg.delivery;
      if (d && (positions[d.consumer] ?? 0) < d.streamSeq) positions[d.consumer] = d.streamSeq;
      o.observe?.(msg);
    },
  });

  let last: SavedSnapshot | undefined;
  let writing: Promise<SavedSnapshot> | undefined;
  const figuresEveryMs = o.figuresEveryMs ?? 10_000;
  const figures = (): RegistryFigures => {
    const mem = process.memoryUsage();
    const indexBytes = state.store.memoryBytes();
    const records = state.store.size;
    const s = registry.stats;
    return {
      ...who,
      updatedAt: new Date().toISOString(),
      startedAt,
      everyMs: figuresEveryMs,
      snapshotStore: store.where,
      documents: { total: records, byKindAndStatus: state.store.counts() },
      persons: state.persons.index.size,
      counters: { reports: s.reports, statusChanges: s.statusChanges, alerts: s.alerts, checks: s.checks, hits: s.hits, hitNotices: s.hitNotices, refused: s.refused, unchanged: s.unchanged, busy: s.busyFull + s.busyLate },
      restored: { fromSnapshot: loaded !== undefined, documents: restored.documents, persons: restored.persons, replayed: replayed.length, ...(snapshotRefused ? { snapshotRefused } : {}), ...(loaded ? { loadMs: restored.loadMs } : {}) },
      ...(last
        ? { lastSnapshot: { at: last.manifest.savedAt, positions: last.manifest.positions, documents: last.manifest.documents, persons: last.manifest.persons, bytes: last.bytes, ms: Math.round(last.ms) } }
        : {}),
      memory: { indexBytes, bytesPerRecord: records ? Math.round((indexBytes / records) * 10) / 10 : 0, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external + mem.arrayBuffers },
    };
  };
  const publishFigures = () => writeRegistryFigures(store, figures()).catch((err: unknown) => logger.warn({ err }, 'registry figures not written'));
  if (loaded) last = { manifest: loaded.manifest, bytes: loaded.bytes, ms: loaded.ms };

  const snapshot = async (): Promise<SavedSnapshot> => {
    while (writing) await writing.catch(() => undefined);
    writing = saveRegistryState(store, { store: state.store, persons: state.persons, positions }, who, registry.quiesce, progress);
    try {
      last = await writing;
      logger.info({ store: store.where, documents: last.manifest.documents, persons: last.manifest.persons, bytes: last.bytes, ms: Math.round(last.ms) }, 'registry snapshot written');
      void publishFigures();
      return last;
    } finally {
      writing = undefined;
    }
  };
  const timer = o.snapshotEveryMs ? setInterval(() => void snapshot().catch((err: unknown) => logger.warn({ err }, 'snapshot failed')), o.snapshotEveryMs) : undefined;
  timer?.unref();
  const figuresTimer = figuresEveryMs > 0 ? setInterval(() => void publishFigures(), figuresEveryMs) : undefined;
  figuresTimer?.unref();
  void publishFigures();
  logger.info(
    { documents: state.store.size, persons: state.persons.index.size, replayed: replayed.length, store: store.where, loadMs: restored.loadMs },
    loaded ? 'registry restored from snapshot' : 'registry started without a snapshot (full replay)',
  );
  const stopService = registry.stop;
  return Object.assign(registry, {
    snapshot,
    figures,
    snapshotStore: store,
    restored,
    async stop(so: { by?: number } = {}): Promise<RegistryStopped> {
      if (timer) clearInterval(timer);
      if (figuresTimer) clearInterval(figuresTimer);
      await settleBy(stopService(), so.by);
      const final = await settleBy(snapshot(), so.by);
      if (final.state !== 'done') {
        const why = final.state === 'late' ? 'not written by the stop deadline (is the server stalled?)' : `failed: ${asLiaisonError(final.err, 'ERR_EXCHANGE').toLine()}`;
        logger.warn({ store: store.where, positions }, `registry final snapshot skipped, ${why}; the next start loads the last snapshot and replays the stream after it`);
        return { snapshot: 'skipped', skipped: why };
      }
      await settleBy(publishFigures(), so.by);
      return { snapshot: 'written' };
    },
  });
}
