import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LiaisonError } from '../sdk/errors.ts';
import { readPrivateFile, writePrivateFile } from '../trust/index.ts';
import {
  createKeyedHasher,
  readDocumentSnapshotFile,
  readPersonSnapshotFile,
  REGISTRY_KEY_BYTES,
  writeDocumentSnapshotFile,
  writePersonSnapshotFile,
} from './index/index.ts';
import { IndexDocumentStore } from './index-store.ts';
import { PersonAlerts } from './persons.ts';

/** Last applied stream sequence per durable consumer: replay starts after it. */
export type ConsumerPositions = Record<string, number>;

/** The registry state a snapshot holds. */
export interface RegistryState {
  store: IndexDocumentStore;
  persons: PersonAlerts;
  positions: ConsumerPositions;
}

interface Manifest {
  version: 1;
  savedAt: string;
  positions: ConsumerPositions;
  documents: number;
  persons: number;
  actions: Record<string, string>;
  personSeq: number;
}

const files = (dir: string) => ({
  key: join(dir, 'registry.key'),
  documents: join(dir, 'documents.snap'),
  references: join(dir, 'references.bin'),
  persons: join(dir, 'persons.snap'),
  manifest: join(dir, 'manifest.json'),
});

/**
 * The registry's secret hashing key in STATE_DIR/registry.key (mode 0600, refused if looser). Created
 * on first use. Snapshots are useless without it, and it never leaves the host.
 */
export async function registryKey(dir: string): Promise<Uint8Array> {
  const f = files(dir);
  try {
    const key = new Uint8Array(await readPrivateFile(f.key));
    if (key.length !== REGISTRY_KEY_BYTES) throw new LiaisonError('ERR_KEY_FILE_INVALID', `${f.key} must hold ${REGISTRY_KEY_BYTES} bytes`);
    return key;
  } catch (err) {
    if (!(err instanceof LiaisonError) || err.code !== 'ERR_KEY_FILE_INVALID' || !/missing|ENOENT|no such/i.test(err.message)) throw err;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const key = randomBytes(REGISTRY_KEY_BYTES);
    await writePrivateFile(f.key, key);
    return new Uint8Array(key);
  }
}

/**
 * Write a snapshot of the registry into STATE_DIR: the compact indexes (keyed hashes only), the record
 * references and, last (atomically), the manifest with the consumer positions it covers.
 */
export async function saveRegistryState(dir: string, state: RegistryState): Promise<void> {
  const f = files(dir);
  // Positions first: anything applied while the files are written is then replayed (idempotently), never skipped.
  const positions = { ...state.positions };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { index, references } = state.store.snapshotParts();
  await writeDocumentSnapshotFile(f.documents, index, { streamSequence: 0n });
  await writePrivateFile(f.references, references);
  await writePersonSnapshotFile(f.persons, state.persons.index, { streamSequence: 0n });
  const extras = state.persons.snapshotExtras();
  const manifest: Manifest = {
    version: 1,
    savedAt: new Date().toISOString(),
    positions,
    documents: state.store.size,
    persons: state.persons.index.size,
    actions: extras.actions,
    personSeq: extras.seq,
  };
  await writePrivateFile(f.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Load the last snapshot from STATE_DIR, or undefined when there is none. Corruption → ERR_DECODE. */
export async function loadRegistryState(dir: string, key: Uint8Array): Promise<RegistryState | undefined> {
  const f = files(dir);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(f.manifest, 'utf8')) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LiaisonError('ERR_DECODE', `${f.manifest} is not a registry manifest`, { file: f.manifest }, { cause: err });
  }
  const hasher = createKeyedHasher(key);
  const docs = await readDocumentSnapshotFile(f.documents, hasher);
  const references = new Uint8Array(await readPrivateFile(f.references));
  const persons = await readPersonSnapshotFile(f.persons, hasher);
  return {
    store: new IndexDocumentStore(key, undefined, { index: docs.index, references }),
    persons: new PersonAlerts(hasher, { index: persons.index, actions: manifest.actions ?? {}, seq: manifest.personSeq ?? 0 }),
    positions: manifest.positions ?? {},
  };
}
