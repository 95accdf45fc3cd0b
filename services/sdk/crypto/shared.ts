/**
 * One crypto pool per process and size, shared by the clients of that process (a service or a test may
 * run many agencies' clients; each starting its own threads would put several threads on every core).
 * A client leases it when it connects and releases it when it closes; the last release closes the pool.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { SignatureCheck } from '../envelope/jws.ts';
import type { Logger } from '../logging.ts';
import { CryptoPool } from './pool.ts';

/** A client's use of the shared pool. */
export interface CryptoPoolLease {
  readonly pool: CryptoPool;
  /** The pool's verify, as the receive pipeline's signature check. */
  readonly verify: SignatureCheck;
  /** The pool's sign. */
  readonly sign: (signingInput: Uint8Array, privateKey: KeyObject) => Promise<Uint8Array>;
  /** Give the lease back (once; more calls do nothing). */
  release(): void;
}

const shared = new Map<number, { pool: CryptoPool; users: number }>();

/** Lease the process's pool of `size` threads (started on first lease). */
export function leaseCryptoPool(size: number, logger?: Logger): CryptoPoolLease {
  let entry = shared.get(size);
  if (!entry) shared.set(size, (entry = { pool: CryptoPool.create({ size, ...(logger ? { logger } : {}) }), users: 0 }));
  entry.users++;
  const { pool } = entry;
  let released = false;
  return {
    pool,
    verify: (input, signature, key) => pool.verify(input, signature, key),
    sign: (input, key) => pool.sign(input, key),
    release: () => {
      if (released) return;
      released = true;
      const e = shared.get(size);
      if (!e || e.pool !== pool || --e.users > 0) return;
      shared.delete(size);
      void pool.close().catch((err: unknown) => logger?.warn({ err }, 'closing the crypto pool failed'));
    },
  };
}
