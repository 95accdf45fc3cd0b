/**
 * What a crypto worker thread does with one batch (worker.ts is the thread's entry): verify or sign each job
 * with node:crypto, with the keys cached by the pool's key id. Pure apart from the cache, so it runs the same
 * on the calling thread.
 *
 * @module
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { JOB_SIGN, SIGNATURE_BYTES, STATUS_FAILED, STATUS_FALSE, STATUS_OK, unpackJobs, type BatchAnswer, type BatchMessage } from './batch.ts';

/** Run one batch against the worker's key cache (updated from the batch first). */
export function runBatch(keys: Map<number, KeyObject>, m: BatchMessage): { answer: BatchAnswer; transfer: ArrayBuffer[] } {
  if (m.reset) keys.clear();
  for (const [id, key] of m.keys) keys.set(id, key);
  const n = m.ops.length / 4;
  const status = new Uint8Array(n);
  let signing = 0;
  for (const j of unpackJobs(m)) if (j.kind === JOB_SIGN) signing++;
  const signatures = new Uint8Array(signing * SIGNATURE_BYTES);
  const errors: Record<number, string> = {};
  let i = 0;
  let s = 0;
  for (const j of unpackJobs(m)) {
    try {
      const key = keys.get(j.keyId);
      if (!key) throw new Error(`key ${j.keyId} is not in the worker's cache`);
      if (j.kind === JOB_SIGN) {
        signatures.set(sign(null, j.input, key), s * SIGNATURE_BYTES);
        s++;
        status[i] = STATUS_OK;
      } else {
        status[i] = verify(null, j.input, key, j.signature) ? STATUS_OK : STATUS_FALSE;
      }
    } catch (err) {
      if (j.kind === JOB_SIGN) s++;
      status[i] = STATUS_FAILED;
      errors[i] = err instanceof Error ? err.message : String(err);
    }
    i++;
  }
  return { answer: { id: m.id, status, signatures, errors }, transfer: [status.buffer, signatures.buffer] };
}
