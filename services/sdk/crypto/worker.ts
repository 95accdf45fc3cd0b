/**
 * The entry of a crypto worker thread started by {@link CryptoPool} (pool.ts): answers each batch message with
 * {@link runBatch}, once it has told the pool it started ({@link THREAD_STARTED}). Runs under Node's type
 * stripping (erasable syntax only, relative `.ts` imports).
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { THREAD_STARTED, type BatchMessage } from './batch.ts';
import { runBatch } from './work.ts';

const port = parentPort;
if (!port) throw new Error('services/sdk/crypto/worker.ts runs only as a worker thread of CryptoPool');
const keys = new Map<number, KeyObject>();
port.on('message', (m: BatchMessage) => {
  const { answer, transfer } = runBatch(keys, m);
  port.postMessage(answer, transfer);
});
port.postMessage(THREAD_STARTED);
