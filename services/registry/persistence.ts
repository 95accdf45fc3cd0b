import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LiaisonError } from '../sdk/errors.ts';
import { readPrivateFile, writePrivateFile } from '../trust/index.ts';
import { REGISTRY_KEY_BYTES } from './index/index.ts';
import { chunkSource, decodeRegistrySnapshot, encodeRegistrySnapshot, type Quiesce, type RegistryState, type SnapshotManifest } from './snapshot-format.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import { SnapshotMeter, type OnSnapshotProgress } from './snapshot-progress.ts';

export type { ConsumerPositions, RegistryState, SnapshotManifest } from './snapshot-format.ts';
export type { OnSnapshotProgress, SnapshotProgressEvent } from './snapshot-progress.ts';

/** Who hears progress, and how often: at most one report per `everyMs` (default 250 ms), plus the last. */
export interface ProgressOptions {
  onProgress?: OnSnapshotProgress;
  everyMs?: number;
}

/** The object (or file) name of one replica's snapshot, `registry-r<K>`. */
export const snapshotName = (replica: number): string => `registry-r${replica}`;

/**
 * The registry's secret hashing key in STATE_DIR/registry.key (mode 0600, refused if looser). Created
 * on first use. Snapshots are useless without it, and it never leaves the host: it is not in the snapshot.
 */
export async function registryKey(dir: string): Promise<Uint8Array> {
  const file = join(dir, 'registry.key');
  try {
    const key = new Uint8Array(await readPrivateFile(file));
    if (key.length !== REGISTRY_KEY_BYTES) throw new LiaisonError('ERR_KEY_FILE_INVALID', `${file} must hold ${REGISTRY_KEY_BYTES} bytes`);
    return key;
  } catch (err) {
    if (!(err instanceof LiaisonError) || err.code !== 'ERR_KEY_FILE_INVALID' || !/missing|ENOENT|no such/i.test(err.message)) throw err;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const key = randomBytes(REGISTRY_KEY_BYTES);
    await writePrivateFile(file, key);
    return new Uint8Array(key);
  }
}

/** What writing a snapshot did. */
export interface SavedSnapshot {
  manifest: SnapshotManifest;
  bytes: number;
  ms: number;
}

/**
 * Write a snapshot of the registry (keyed hashes and the consumer positions it covers) to `store` as
 * `registry-r<replica>`, replacing the previous one only once the new one is complete. With `quiesce` (a
 * running registry's), the state is copied while no record is being applied; checks go on. `progress.onProgress`
 * hears the preparation (phase `prepare`), then the write (phase `write`), each in records done of the snapshot's
 * documents and person alerts.
 */
export async function saveRegistryState(
  store: SnapshotStore,
  state: RegistryState,
  who: { agency: string; replica: number },
  quiesce?: Quiesce,
  progress: ProgressOptions = {},
): Promise<SavedSnapshot> {
  const t0 = performance.now();
  const metered = (phase: 'prepare' | 'write') => (progress.onProgress ? new SnapshotMeter(phase, progress.onProgress, { everyMs: progress.everyMs }) : undefined);
  const encoded = await encodeRegistrySnapshot(state, who, quiesce, metered('prepare'));
  const meter = metered('write');
  meter?.setTotals(encoded.manifest.documents + encoded.manifest.persons, encoded.bytes);
  await store.put(snapshotName(who.replica), encoded.parts, encoded.bytes, meter && ((n) => meter.bytes(n)));
  meter?.finish();
  return { manifest: encoded.manifest, bytes: encoded.bytes, ms: performance.now() - t0 };
}

/** A loaded snapshot and what loading it cost. */
export interface LoadedSnapshot {
  state: RegistryState;
  manifest: SnapshotManifest;
  bytes: number;
  ms: number;
}

/**
 * Load `registry-r<replica>` from `store`, or undefined when there is none. Everything is checked (container,
 * manifest, agency, replica, key fingerprint, consumers, section digests, the store's own digest); any
 * disagreement throws `ERR_DECODE`, and the caller falls back to a full replay. `progress.onProgress` hears the
 * load (phase `load`), once the manifest has said how many records there are; the last report comes only once
 * every check passed.
 */
export async function loadRegistryState(
  store: SnapshotStore,
  key: Uint8Array,
  expect: { agency: string; replica: number; consumers: ReadonlySet<string> },
  progress: ProgressOptions = {},
): Promise<LoadedSnapshot | undefined> {
  const t0 = performance.now();
  const blob = await store.get(snapshotName(expect.replica));
  if (!blob) return undefined;
  const meter = progress.onProgress ? new SnapshotMeter('load', progress.onProgress, { everyMs: progress.everyMs }) : undefined;
  const src = chunkSource(blob.chunks, meter && ((n) => meter.bytes(n)));
  const { state, manifest } = await decodeRegistrySnapshot(src, key, expect, meter);
  await blob.verified();
  meter?.finish();
  return { state, manifest, bytes: src.consumed, ms: performance.now() - t0 };
}
