/** A readable, line-per-event timeline for the demo (plain text; colour only on a TTY). */
export interface Timeline {
  step(title: string): void;
  event(line: TimelineEvent): void;
  note(text: string): void;
  lines(): string[];
}

/** One event: who → whom, what, at which tier, and what happened. */
export interface TimelineEvent {
  from: string;
  to: string;
  type: string;
  tier?: string;
  outcome: 'delivered' | 'refused' | 'rejected' | 'info';
  detail?: string;
}

const MARK: Record<TimelineEvent['outcome'], string> = { delivered: '✔', refused: '✖', rejected: '✖', info: '·' };

/** A timeline writing to `out` as it goes. */
export function createTimeline(out: (line: string) => void, t0 = Date.now()): Timeline {
  const all: string[] = [];
  const tty = process.stdout.isTTY && !process.env.NO_COLOR;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
  const emit = (line: string) => {
    all.push(line);
    out(line);
  };
  const clock = () => dim(`+${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s`);
  return {
    step(title) {
      emit('');
      emit(bold(title));
    },
    event(e) {
      const tier = e.tier ? `[${e.tier}]` : '';
      emit(`${clock()} ${MARK[e.outcome]} ${e.from.padEnd(17)} → ${e.to.padEnd(17)} ${e.type.padEnd(30)} ${tier.padEnd(13)} ${e.outcome}${e.detail ? `: ${e.detail}` : ''}`);
    },
    note(text) {
      emit(`${clock()}   ${dim(text)}`);
    },
    lines: () => all,
  };
}
