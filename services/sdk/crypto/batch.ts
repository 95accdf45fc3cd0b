/**
 * The wire form of a batch of crypto jobs between the {@link CryptoPool} (pool.ts) and its worker threads: one
 * `postMessage` per batch, never per signature (posting costs about as much as one Ed25519 verification). The
 * inputs are packed into one fresh buffer that is transferred, not copied; the answer comes back the same way.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';

/** Job kinds, as they travel in {@link BatchMessage.ops}. */
export const JOB_VERIFY = 0;
/** A signing job. */
export const JOB_SIGN = 1;
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Numbers per job in {@link BatchMessage.ops}: kind, key id, input length, signature length. */
export const OP_WORDS = 4;

/** A job's result in {@link BatchAnswer.status}. */
export const STATUS_FALSE = 0;
/** A verification that held, or a signature made. */
export const STATUS_OK = 1;
/** node:crypto threw for this job (e.g. a key of the wrong type); the message is in {@link BatchAnswer.errors}. */
export const STATUS_FAILED = 2;

/** One job as the pool hands it to {@link packBatch}. */
export interface JobInput {
  kind: typeof JOB_VERIFY | typeof JOB_SIGN;
  /** The pool's number for the key (its cache key in the worker). */
  keyId: number;
  input: Uint8Array;
  /** For a verification: the signature to check. */
  signature?: Uint8Array;
}

/** A batch on its way to a worker. */
export interface BatchMessage {
  id: number;
  /** The worker drops its key cache before this batch (the pool bounds both sides' caches alike). */
  reset: boolean;
  /** Keys this worker has not seen yet, by the pool's key id (KeyObjects are cloneable). */
  keys: [number, KeyObject][];
  /** {@link OP_WORDS} numbers per job. */
  ops: Uint32Array;
  /** Every job's input then signature, back to back. */
  bytes: Uint8Array;
}

/** A worker's answer to one batch. */
export interface BatchAnswer {
  id: number;
  /** One {@link STATUS_OK}/{@link STATUS_FALSE}/{@link STATUS_FAILED} per job. */
  status: Uint8Array;
  /** {@link SIGNATURE_BYTES} per signing job, in job order. */
  signatures: Uint8Array;
  /** Messages of failed jobs, by job index. */
  errors: Record<number, string>;
}

/**
 * The first message a worker thread posts, once its module is loaded and it listens for batches: until then the
 * pool runs jobs on the calling thread rather than make them wait for the thread's start-up.
 */
export const THREAD_STARTED = 'started';

/** Pack jobs into one message; `transfer` lists the buffers to move (fresh ones: never a pooled Buffer's slab). */
export function packBatch(id: number, reset: boolean, keys: [number, KeyObject][], jobs: readonly JobInput[]): { message: BatchMessage; transfer: ArrayBuffer[] } {
  const ops = new Uint32Array(jobs.length * OP_WORDS);
  let size = 0;
  for (const j of jobs) size += j.input.byteLength + (j.signature?.byteLength ?? 0);
  const bytes = new Uint8Array(size);
  let at = 0;
  jobs.forEach((j, i) => {
    const sigLen = j.signature?.byteLength ?? 0;
    ops.set([j.kind, j.keyId, j.input.byteLength, sigLen], i * OP_WORDS);
    bytes.set(j.input, at);
    at += j.input.byteLength;
    if (j.signature) bytes.set(j.signature, at);
    at += sigLen;
  });
  return { message: { id, reset, keys, ops, bytes }, transfer: [ops.buffer, bytes.buffer] };
}

/** One job read back from a {@link BatchMessage} (views into its buffer, no copies). */
export interface JobView {
  kind: number;
  keyId: number;
  input: Uint8Array;
  signature: Uint8Array;
}

/** The jobs of a batch, in order. */
export function* unpackJobs(m: BatchMessage): Generator<JobView> {
  let at = 0;
  for (let i = 0; i < m.ops.length; i += OP_WORDS) {
    const inputLen = m.ops[i + 2]!;
    const sigLen = m.ops[i + 3]!;
    const input = m.bytes.subarray(at, at + inputLen);
    at += inputLen;
    const signature = m.bytes.subarray(at, at + sigLen);
    at += sigLen;
    yield { kind: m.ops[i]!, keyId: m.ops[i + 1]!, input, signature };
  }
}
