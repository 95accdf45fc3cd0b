/** What a presenter controls: playing or paused, and the pace. */
export interface PlaybackState {
  playing: boolean;
  /** Pace multiplier: the pause between scenario events is `stepMs / speed`. */
  speed: number;
  /** Index of the next scenario event to play, and how many there are. */
  next: number;
  total: number;
}

/** Speeds the presenter may choose. */
export const SPEEDS = [0.5, 1, 2, 4, 1000] as const;

/**
 * A presenter's playback of a scenario run: the runner awaits {@link Playback.gate} before each event.
 * Playing, it waits `stepMs / speed` between events; paused, it waits for play or a single step.
 */
export class Playback {
  #state: PlaybackState;
  readonly #stepMs: number;
  readonly #onChange: (s: PlaybackState) => void;
  #wake: (() => void) | undefined;
  #steps = 0;
  #closed = false;

  constructor(o: { playing: boolean; speed: number; stepMs: number; total: number; onChange: (s: PlaybackState) => void }) {
    this.#state = { playing: o.playing, speed: o.speed, next: 0, total: o.total };
    this.#stepMs = o.stepMs;
    this.#onChange = o.onChange;
  }

  /** The state now. */
  state(): PlaybackState {
    return { ...this.#state };
  }

  #changed(): void {
    this.#onChange(this.state());
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Play on. */
  play(): void {
    this.#state.playing = true;
    this.#changed();
  }

  /** Pause before the next event. */
  pause(): void {
    this.#state.playing = false;
    this.#changed();
  }

  /** Play exactly one more event, then stay paused. */
  step(): void {
    this.#state.playing = false;
    this.#steps++;
    this.#changed();
  }

  /** Change the pace. */
  setSpeed(speed: number): void {
    this.#state.speed = speed;
    this.#changed();
  }

  /** End the playback: the run stops at its next gate. */
  close(): void {
    this.#closed = true;
    this.#changed();
  }

  /** Await the presenter before event `index` (the runner's gate); `'stop'` once closed. */
  gate = async (index: number): Promise<void | 'stop'> => {
    if (index > 0 && this.#state.playing && !this.#closed) await this.#sleep(this.#stepMs / this.#state.speed);
    while (!this.#state.playing && !this.#closed) {
      if (this.#steps > 0) {
        this.#steps--;
        break;
      }
      await new Promise<void>((r) => (this.#wake = r));
    }
    if (this.#closed) return 'stop';
    this.#state.next = index + 1;
    this.#onChange(this.state());
  };

  /** Sleep, cut short when the presenter changes something. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.#wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}
