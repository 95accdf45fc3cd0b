/**
 * Coalescing of the centre's CorrelationAlerts (issue 13). While the centre works through a burst or a
 * backlog, a value that keeps recurring would cost one signed alert per recipient per message. Instead,
 * an alert waits briefly here, and a newer alert to the same recipient about the same value replaces
 * it: the newer one is planned on the record as it stood at a later occurrence, so it already carries
 * every message reference the older one did (and more). One signed alert goes out per (value,
 * recipient) per flush.
 *
 * Nothing is acknowledged before its alert is out: every offer returns a promise that settles only when
 * the alert covering it was sent (or refused by the policy), and the centre's handler awaits it before
 * its message is acknowledged. A process that dies with alerts pending here has acknowledged none of
 * their messages: they are redelivered and plan the same alerts again (same ids).
 *
 * Bounded: at most `cap` alerts wait (reaching it flushes at once); a flush also runs `windowMs` after
 * the first alert waits, and at once when no handler is still working towards an alert ({@link hold}),
 * so a light load pays no window at all.
 */
import type { PlannedAlert } from './alerts.ts';
import type { SentAlert } from './store.ts';

/** An alert a handler wants sent, with what decides which of two alerts is the newer. */
export interface OfferedAlert {
  /** The value's record key ({@link entityHash}). */
  hash: string;
  plan: PlannedAlert;
  /** Its id and recipient, as remembered on the record. */
  sent: SentAlert;
  /** The centre's reference of the link (the alert's correlation id). */
  ref: string;
  /** Revision of the record write that planned it (KV revisions only grow). */
  revision: number;
  /** Index of its trigger occurrence in that record (orders alerts planned by one write). */
  index: number;
  /** True when the write that planned it also added it to the record (false: a redelivery; it may have been sent before). */
  fresh: boolean;
}

/** Counters of an {@link AlertCoalescer}. */
export interface CoalescerStats {
  /** Alerts offered. */
  offered: number;
  /** Alerts handed to the sender (one per (value, recipient) per flush). */
  sent: number;
  /** Offered alerts a newer one to the same recipient about the same value made unnecessary. */
  merged: number;
  flushes: number;
}

/** What the coalescer needs of the centre. */
export interface CoalescerOptions {
  /** Send one alert; false when the policy refuses it (it is then not listed on the record). */
  send(a: OfferedAlert): Promise<boolean>;
  /**
   * Take alerts that were never sent off the value's record (the record lists only alerts sent). `background`: nothing
   * waits for it (alerts a newer one replaced), so it may wait for the value's next write until {@link hurry}.
   */
  forget(hash: string, ids: Set<string>, background: boolean): Promise<void>;
  /** Write at once the background forgets still waiting for their value's next write ({@link AlertCoalescer.settle}). */
  hurry?(): void;
  /** Longest time an alert waits for a newer one (default {@link ALERT_WINDOW_MS}; 0: flush at every offer). */
  windowMs?: number;
  /** Most alerts waiting at once (default {@link ALERT_CAP}); reaching it flushes at once. */
  cap?: number;
  /** Told of a failed background write (a forget the next write of the value repeats anyway). */
  onError?(err: unknown): void;
}

/**
 * Default longest wait of an alert for a newer one to the same recipient about the same value. Measured
 * on the centre bench's backlog (issue 13): 25 ms merged nothing at 16 messages in process; 250 ms with
 * 128 in process sent 1.3 alerts a message instead of 1.9. Under a light load alerts do not wait at
 * all ({@link AlertCoalescer.hold}).
 */
export const ALERT_WINDOW_MS = 250;
/** Default most alerts waiting at once. */
export const ALERT_CAP = 512;

interface Waiter {
  resolve(sent: boolean): void;
  reject(err: unknown): void;
}

/** The alert to send for one (value, recipient), the older ones it covers, and who waits for it. */
interface Entry {
  alert: OfferedAlert;
  covered: OfferedAlert[];
  waiters: Waiter[];
}

const isNewer = (a: OfferedAlert, b: OfferedAlert) => a.revision > b.revision || (a.revision === b.revision && a.index > b.index);

/** Coalesces alerts per (value, recipient) over a short window; see the module comment. */
export class AlertCoalescer {
  readonly stats: CoalescerStats = { offered: 0, sent: 0, merged: 0, flushes: 0 };
  readonly #o: CoalescerOptions;
  readonly #windowMs: number;
  readonly #cap: number;
  #pending = new Map<string, Entry>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Handlers still working towards their alerts ({@link hold}). */
  #busy = 0;
  /** Flushes and background forgets still running (awaited by {@link settle}). */
  readonly #running = new Set<Promise<unknown>>();

  constructor(o: CoalescerOptions) {
    this.#o = o;
    this.#windowMs = o.windowMs ?? ALERT_WINDOW_MS;
    this.#cap = o.cap ?? ALERT_CAP;
  }

  /** Alerts waiting now (at most the cap). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Note a handler working towards alerts; the returned function (idempotent) says it has offered all it
   * will. When no handler works any more, nothing newer can come soon: waiting alerts go at once.
   */
  hold(): () => void {
    this.#busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#busy--;
      if (this.#busy === 0 && this.#pending.size > 0) this.#flushNow();
    };
  }

  /** Offer an alert; resolves once the alert covering it was sent (true) or refused by the policy (false). */
  offer(a: OfferedAlert): Promise<boolean> {
    this.stats.offered++;
    const key = `${a.hash} ${a.sent.to}`;
    const promise = new Promise<boolean>((resolve, reject) => {
      const waiter = { resolve, reject };
      const entry = this.#pending.get(key);
      if (!entry) {
        this.#pending.set(key, { alert: a, covered: [], waiters: [waiter] });
        return;
      }
      entry.waiters.push(waiter);
      if (a.sent.id === entry.alert.sent.id) return;
      this.stats.merged++;
      if (isNewer(a, entry.alert)) {
        entry.covered.push(entry.alert);
        entry.alert = a;
      } else entry.covered.push(a); // Planned earlier, offered later: the waiting newer alert covers it.
    });
    if (this.#pending.size >= this.#cap || this.#windowMs === 0 || this.#busy === 0) this.#flushNow();
    else this.#timer ??= setTimeout(() => this.#flushNow(), this.#windowMs);
    return promise;
  }

  /**
   * Send every waiting alert now and wait for it, for the flushes already running and for the forgets
   * they start (not for flushes started meanwhile: under a steady load it would never return).
   */
  async settle(): Promise<void> {
    this.#flushNow();
    await Promise.allSettled([...this.#running]);
    this.#o.hurry?.();
    await Promise.allSettled([...this.#running]);
  }

  /** Send every waiting alert now, without waiting for the sends (a stop: what is not sent is not acknowledged either). */
  flush(): void {
    this.#flushNow();
  }

  #flushNow(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    this.stats.flushes++;
    this.#track(this.#flush(batch));
  }

  #track(p: Promise<unknown>): void {
    const guarded = p.catch((err: unknown) => this.#o.onError?.(err));
    this.#running.add(guarded);
    void guarded.finally(() => this.#running.delete(guarded));
  }

  /**
   * Send each entry's newest alert (all at once); then take what was never sent off the records: a
   * refused alert before its waiters are told (as an unbatched send would), covered alerts in the
   * background (a crash before that leaves them listed, which retraction already tolerates).
   */
  async #flush(batch: Entry[]): Promise<void> {
    await Promise.all(
      batch.map(async (e) => {
        let sent: boolean;
        try {
          this.stats.sent++;
          sent = await this.#o.send(e.alert);
        } catch (err) {
          for (const w of e.waiters) w.reject(err);
          return;
        }
        const covered = new Set(e.covered.filter((c) => c.fresh && c.sent.id !== e.alert.sent.id).map((c) => c.sent.id));
        if (!sent && e.alert.fresh) {
          covered.add(e.alert.sent.id);
          try {
            await this.#o.forget(e.alert.hash, covered, false);
          } catch (err) {
            for (const w of e.waiters) w.reject(err);
            return;
          }
        } else if (covered.size > 0) this.#track(this.#o.forget(e.alert.hash, covered, true));
        for (const w of e.waiters) w.resolve(sent);
      }),
    );
  }
}
