/**
 * How much a process's threads ran and how long they waited for a core (Linux `/proc/PID/task/TID/schedstat`: ns on
 * a CPU, ns waiting on a run queue), for benchmarks on a shared machine: a latency tail spent waiting for a core is
 * the machine's, not the code's. Elsewhere (no /proc) every figure is undefined.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Sums over a process's threads, in ms. */
export interface SchedTimes {
  runMs: number;
  waitMs: number;
}

/** The process's threads' CPU and run-queue wait so far, or undefined where /proc has no schedstat. */
export function schedTimes(pid: number | 'self' = 'self'): SchedTimes | undefined {
  try {
    let run = 0;
    let wait = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      run += r ?? 0;
      wait += w ?? 0;
    }
    return { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return undefined;
  }
}

/** A window's run and run-queue wait per second of wall time, for each process named. */
export function schedWindow(pids: Record<string, number | 'self' | undefined>): { stop(): string } {
  const t0 = performance.now();
  const before = Object.entries(pids).map(([name, pid]) => [name, pid, pid === undefined ? undefined : schedTimes(pid)] as const);
  return {
    stop() {
      const s = (performance.now() - t0) / 1000;
      const parts = before.flatMap(([name, pid, b]) => {
        const a = pid === undefined ? undefined : schedTimes(pid);
        return a && b ? [`${name} ran ${((a.runMs - b.runMs) / s).toFixed(0)} ms/s, waited for a core ${((a.waitMs - b.waitMs) / s).toFixed(0)} ms/s`] : [];
      });
      return parts.length ? parts.join('; ') : 'no schedstat here';
    },
  };
}
