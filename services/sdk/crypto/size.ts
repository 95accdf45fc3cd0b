import { availableParallelism } from 'node:os';
import { LiaisonError } from '../errors.ts';

/** The most crypto worker threads a pool starts (more rarely pays: the event loop feeding them becomes the limit). */
export const MAX_CRYPTO_WORKERS = 8;

/**
 * The default number of crypto worker threads: one per core beyond the one running the event loop
 * (`os.availableParallelism() - 1`), at most {@link MAX_CRYPTO_WORKERS}; 0 on a single core (work stays inline).
 */
export function defaultCryptoWorkers(cores: number = availableParallelism()): number {
  return Math.min(MAX_CRYPTO_WORKERS, Math.max(0, cores - 1));
}

/** Check a `cryptoWorkers`/`size` option: undefined (the default) or an integer from 0 to {@link MAX_CRYPTO_WORKERS}; else ERR_USAGE. */
export function checkCryptoWorkers(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_CRYPTO_WORKERS) return value;
  throw new LiaisonError('ERR_USAGE', `cryptoWorkers must be an integer from 0 to ${MAX_CRYPTO_WORKERS} (0: sign and verify on the calling thread), not ${String(value)}`, {
    cryptoWorkers: typeof value === 'number' ? value : String(value),
  });
}
