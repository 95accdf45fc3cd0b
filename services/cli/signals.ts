import { LiaisonError } from '../sdk/errors.ts';

/**
 * How long a command has, after SIGTERM or SIGINT, to stop cleanly (finish its handlers, acknowledge,
 * write its last snapshot, close): past it the process exits with status 1 and `ERR_STOP_TIMEOUT`.
 */
export const STOP_BOUND_MS = 4_000;

/** The exit status of a second signal while stopping: 128 + SIGINT, as shells report an interrupt. */
export const EXIT_INTERRUPTED_TWICE = 130;

/** Where {@link watchStopSignals} reports and how it ends the process (the process itself by default). */
export interface StopSignalOptions {
  boundMs?: number;
  err: (line: string) => void;
  exit: (code: number) => void;
  /** The emitter of the signals (default: `process`). */
  on?: (signal: 'SIGINT' | 'SIGTERM', listener: () => void) => void;
}

/**
 * Resolves on the first SIGTERM or SIGINT, which asks the running command to stop. From then on the
 * stop is bounded: after `boundMs` the process exits with status 1 and an `ERR_STOP_TIMEOUT` line; a
 * second signal exits at once with status 130.
 */
export function watchStopSignals(o: StopSignalOptions): Promise<void> {
  const boundMs = o.boundMs ?? STOP_BOUND_MS;
  const on = o.on ?? ((signal, listener) => void process.on(signal, listener));
  let stopping = false;
  return new Promise<void>((resolve) => {
    const onSignal = () => {
      if (stopping) {
        o.err('liaison: stopped at once on a second signal (what was acknowledged stays so; the rest stays in JetStream)');
        o.exit(EXIT_INTERRUPTED_TWICE);
        return;
      }
      stopping = true;
      resolve();
      // Unreferenced: a command that stops in time lets the process end without waiting for it.
      setTimeout(() => {
        o.err(`liaison: ${new LiaisonError('ERR_STOP_TIMEOUT', `did not stop within ${boundMs} ms of the signal; exiting (what was acknowledged stays so; the rest stays in JetStream)`).toLine()}`);
        o.exit(1);
      }, boundMs).unref();
    };
    on('SIGINT', onSignal);
    on('SIGTERM', onSignal);
  });
}
