import { LiaisonError } from '../sdk/errors.ts';
import type { ConsumerPositions } from './snapshot-format.ts';
import type { SnapshotStore } from './snapshot-store.ts';

/** The figures one registry replica publishes next to its snapshot (`liaison registry stats`). */
export interface RegistryFigures {
  agency: string;
  replica: number;
  /** When these figures were written; a replica that stopped writing them is probably down. */
  updatedAt: string;
  startedAt: string;
  /** How often the replica rewrites them (ms). */
  everyMs: number;
  /** Where its snapshots go (`object store xc-ncb_snapshots`, or a directory). */
  snapshotStore: string;
  documents: { total: number; byKindAndStatus: Record<string, Record<string, number>> };
  persons: number;
  /** Since the replica started. */
  counters: {
    reports: number;
    statusChanges: number;
    alerts: number;
    checks: number;
    hits: number;
    hitNotices: number;
    refused: number;
    unchanged: number;
    /** Checks refused with a signed busy result by bounded admission (issue 16); absent in figures of older replicas. */
    busy?: number;
  };
  /** Restored at start: from a snapshot (records, replayed consumers) or a full replay and why. */
  restored: { fromSnapshot: boolean; documents: number; persons: number; replayed: number; snapshotRefused?: string; loadMs?: number };
  lastSnapshot?: { at: string; positions: ConsumerPositions; documents: number; persons: number; bytes: number; ms: number };
  memory: { indexBytes: number; bytesPerRecord: number; rssBytes: number; heapUsedBytes: number; externalBytes: number };
}

/** The name of one replica's figures, next to its snapshot `registry-r<K>`. */
export const figuresName = (replica: number): string => `registry-r${replica}.stats.json`;

/** Write one replica's figures to the snapshot store. */
export async function writeRegistryFigures(store: SnapshotStore, f: RegistryFigures): Promise<void> {
  const bytes = Buffer.from(`${JSON.stringify(f, null, 2)}\n`, 'utf8');
  await store.put(figuresName(f.replica), [bytes], bytes.byteLength);
}

/** Read the figures of every replica found in the store, by replica number. */
export async function readRegistryFigures(store: SnapshotStore): Promise<RegistryFigures[]> {
  const names = (await store.list('registry-r')).filter((n) => /^registry-r\d+\.stats\.json$/.test(n)).sort();
  const out: RegistryFigures[] = [];
  for (const name of names) {
    const blob = await store.get(name);
    if (!blob) continue;
    const chunks: Uint8Array[] = [];
    for await (const c of blob.chunks) chunks.push(c);
    await blob.verified();
    try {
      out.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RegistryFigures);
    } catch (err) {
      throw new LiaisonError('ERR_DECODE', `${store.where}: ${name} is not registry figures JSON`, { name }, { cause: err });
    }
  }
  return out.sort((a, b) => a.replica - b.replica);
}
