import { createReadStream } from 'node:fs';
import { agencyJetStream } from '../sdk/client/agency-js.ts';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Objm, setSha256Backend, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { asLiaisonError, LiaisonError } from '../sdk/errors.ts';
import { ObjectReader } from '../sdk/state/object-reader.ts';

/** Chunks of one stored object, with a check that the store's own integrity check passed once read. */
export interface StoredBlob {
  chunks: AsyncIterable<Uint8Array>;
  size: number;
  /** Resolves once `chunks` is fully read; throws when the store found the bytes corrupt. */
  verified(): Promise<void>;
}

/**
 * Where registry snapshots and figures live: the agency's JetStream object store (`<agency>_snapshots`, the
 * policy's `state: { objects: [snapshots] }`), or a local directory. Names are object or file names.
 */
export interface SnapshotStore {
  /** Where, for log lines and the CLI (`object store xc-ncb_snapshots`, a path). */
  readonly where: string;
  /**
   * Write `parts` (`bytes` in total) as `name`, replacing the previous one only once complete. `onBytes` hears
   * the bytes handed on so far (to the file, or to the object store's writer), for progress.
   */
  put(name: string, parts: Uint8Array[], bytes: number, onBytes?: (written: number) => void): Promise<void>;
  /** Open `name` for reading, or undefined when there is none. */
  get(name: string): Promise<StoredBlob | undefined>;
  /** Names stored that start with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

/** Largest chunk under the server's max_payload (1 MiB in the exchange's config), leaving room for headers. */
const chunkSizeFor = (nc: NatsConnection) => Math.max(128 << 10, (nc.info?.max_payload ?? 1 << 20) - (8 << 10));

/** Byte ranges as a ReadableStream of slices of at most `slice` bytes (views, no copies); `onBytes` hears each pull. */
function streamOf(parts: Uint8Array[], slice: number, onBytes?: (written: number) => void): ReadableStream<Uint8Array> {
  let i = 0;
  let off = 0;
  let written = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      while (i < parts.length && off >= parts[i]!.byteLength) {
        i++;
        off = 0;
      }
      if (i >= parts.length) return controller.close();
      const p = parts[i]!;
      const piece = p.subarray(off, off + slice);
      controller.enqueue(piece);
      off += slice;
      written += piece.byteLength;
      onBytes?.(written);
    },
  });
}

/**
 * Snapshots in the agency's object store bucket. The agency's NATS user may read and write only its own
 * buckets (the exchange provisions them; the user cannot create streams), so the JetStream client skips its
 * account-wide API check, which those rights do not include. Replacing an object is atomic: the new chunks go
 * in first, then the metadata, then the old chunks are purged. Reads go by direct get ({@link ObjectReader}:
 * the agency has no consumer rights on its bucket), checking each object's SHA-256, size and chunk count.
 */
export async function objectSnapshotStore(nc: NatsConnection, bucket: string): Promise<SnapshotStore> {
  // The default pure-JS SHA-256 of @nats-io/obj runs at a fraction of node:crypto's speed on 100 MB snapshots.
  setSha256Backend('native');
  let os: ObjectStore;
  let reader: ObjectReader;
  try {
    os = await new Objm(agencyJetStream(nc)).open(bucket);
    reader = await ObjectReader.open(nc, bucket);
  } catch (err) {
    throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot open object store ${bucket} (does the policy give this agency state: { objects: [snapshots] }?)`);
  }
  const maxChunk = chunkSizeFor(nc);
  return {
    where: `object store ${bucket}`,
    async put(name, parts, bytes, onBytes) {
      try {
        await os.put({ name, description: `Liaison registry state, ${bytes} bytes`, options: { max_chunk_size: maxChunk } }, streamOf(parts, maxChunk, onBytes));
      } catch (err) {
        throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot write ${name} to object store ${bucket}`);
      }
    },
    async get(name) {
      let r;
      try {
        r = await reader.read(name);
      } catch (err) {
        throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot read ${name} from object store ${bucket}`);
      }
      if (!r) return undefined;
      const result = r;
      return {
        chunks: result.chunks,
        size: result.meta.size,
        async verified() {
          await result.verified().catch((err: unknown) => {
            const text = err instanceof Error ? err.message : String(err);
            throw new LiaisonError('ERR_DECODE', `registry snapshot refused: ${text}`, {}, { cause: err });
          });
        },
      };
    },
    async list(prefix) {
      try {
        return (await reader.list()).filter((i) => i.name.startsWith(prefix)).map((i) => i.name);
      } catch (err) {
        throw asLiaisonError(err, 'ERR_EXCHANGE', `cannot list object store ${bucket}`);
      }
    },
  };
}

/** Snapshots as files in a local directory (mode 0600, written to a temporary file, fsynced, renamed). */
export function fileSnapshotStore(dir: string): SnapshotStore {
  const path = (name: string) => `${dir}/${name}`;
  return {
    where: dir,
    async put(name, parts, _bytes, onBytes) {
      const target = path(name);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const tmp = `${target}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      let written = 0;
      try {
        for (const p of parts) {
          for (let off = 0; off < p.byteLength; ) {
            const { bytesWritten } = await fh.write(p, off, Math.min(p.byteLength - off, 64 << 20));
            off += bytesWritten;
            written += bytesWritten;
            onBytes?.(written);
          }
        }
        await fh.sync();
      } catch (err) {
        await fh.close();
        await rm(tmp, { force: true });
        throw err;
      }
      await fh.close();
      await rename(tmp, target);
    },
    async get(name) {
      const info = await stat(path(name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!info) return undefined;
      return { chunks: createReadStream(path(name), { highWaterMark: 4 << 20 }), size: info.size, verified: async () => undefined };
    },
    async list(prefix) {
      return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp'));
    },
  };
}
