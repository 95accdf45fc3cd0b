import { LiaisonError } from '../errors.ts';

/** nats.js's wait before dialling a server again after losing it (`reconnectTimeWait`), the default here too. */
export const DEFAULT_RECONNECT_WAIT_MS = 2_000;
/** nats.js's random extra wait on top of it: up to 100 ms on plain TCP, up to 1 s over TLS. */
const JITTER_MS = { plain: 100, tls: 1_000 };

/**
 * How long a client's connection waits before each dial when it reconnects (nats.js `reconnectDelayHandler`).
 *
 * A lost connection is paced as nats.js does by default: the reconnect wait plus jitter, so a federation's
 * clients do not all hammer a restarting exchange at once. A reconnect the client asks for itself, to switch to
 * re-issued credentials ({@link dialNow}), dials at once: nats.js does not dial a server it dialled less than the
 * reconnect wait ago, so a switch made right after connecting (the directory fetched at connect names a newer
 * JWT) would otherwise hold the agency's first messages for 2–3 s.
 */
export class ReconnectPacing {
  readonly #waitMs: number;
  readonly #jitterMs: number;
  #now = false;

  constructor(o: { waitMs?: number; tls: boolean }) {
    this.#waitMs = o.waitMs ?? DEFAULT_RECONNECT_WAIT_MS;
    this.#jitterMs = o.tls ? JITTER_MS.tls : JITTER_MS.plain;
  }

  /** The next dial of the coming reconnect goes at once (later attempts, if it fails, are paced again). */
  dialNow(): void {
    this.#now = true;
  }

  /** The wait before the next dial, in ms (nats.js calls it before each attempt). */
  readonly delay = (): number => {
    if (this.#now) {
      this.#now = false;
      return 0;
    }
    return this.#waitMs + Math.floor(Math.random() * (this.#jitterMs + 1));
  };
}

/** Validate the `reconnectWaitMs` connect option: a whole number of ms from 0 to one hour, else ERR_USAGE. */
export function checkReconnectWait(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 3_600_000) return value;
  throw new LiaisonError('ERR_USAGE', `reconnectWaitMs must be a whole number of milliseconds from 0 to 3600000, not ${String(value)}`, {
    reconnectWaitMs: typeof value === 'number' ? value : String(value),
  });
}
