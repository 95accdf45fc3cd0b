import { LiaisonError } from '../sdk/errors.ts';

/** Event streams and long polls one API token may hold open at once, by default. */
export const DEFAULT_MAX_READERS_PER_TOKEN = 8;
/** Event streams and long polls the whole gateway holds open at once, by default. */
export const DEFAULT_MAX_READERS = 128;
/** The Retry-After (seconds) of a busy answer, by default. */
export const DEFAULT_BUSY_RETRY_AFTER_S = 5;

/** The bounds of {@link ReaderSlots}. */
export interface ReaderLimits {
  /** Open readers (SSE streams plus long polls) per API token. */
  perToken: number;
  /** Open readers in all. */
  total: number;
  /** Seconds a refused caller is told to wait (Retry-After). */
  retryAfterS: number;
}

/**
 * The open readers of a gateway's inbox (event streams and long polls), bounded per API token and in all:
 * each holds a socket, a lease and a timer for as long as it lasts, so without a bound one system could
 * hold the gateway's sockets and messages. Beyond a bound, {@link acquire} refuses with ERR_GATEWAY_BUSY.
 */
export class ReaderSlots {
  readonly limits: ReaderLimits;
  readonly #byToken = new Map<string, number>();
  #total = 0;

  constructor(limits: ReaderLimits) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 1) throw new LiaisonError('ERR_CONFIG_INVALID', `gateway reader limit ${k} must be a whole number ≥ 1, got ${String(v)}`, { field: k });
    }
    this.limits = limits;
  }

  /** Readers open now, in all. */
  get open(): number {
    return this.#total;
  }

  /**
   * Take a slot for a reader of `token`; returns its release (calling it more than once releases once).
   * ERR_GATEWAY_BUSY, carrying `retryAfterS`, when the token's or the gateway's bound is reached.
   */
  acquire(token: string): () => void {
    const mine = this.#byToken.get(token) ?? 0;
    if (mine >= this.limits.perToken) throw this.#busy(`token ${token} already holds ${mine} open event streams or long polls (at most ${this.limits.perToken} per token)`, 'token');
    if (this.#total >= this.limits.total) throw this.#busy(`the gateway already serves ${this.#total} open event streams or long polls (at most ${this.limits.total})`, 'total');
    this.#byToken.set(token, mine + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byToken.get(token) ?? 1) - 1;
      if (left > 0) this.#byToken.set(token, left);
      else this.#byToken.delete(token);
    };
  }

  #busy(message: string, bound: 'token' | 'total'): LiaisonError {
    return new LiaisonError('ERR_GATEWAY_BUSY', `${message}: retry in ${this.limits.retryAfterS} s, or close a reader first`, { bound, retryAfterS: this.limits.retryAfterS });
  }
}
