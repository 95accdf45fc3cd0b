/**
 * How much a process's threads ran and how long they waited for a core (Linux `/proc/PID/task/TID/schedstat`: ns on
 * a CPU, ns waiting on a run queue), for benchmarks on a shared machine: a latency tail spent waiting for a core is
 * the machine's, not the code's. Elsewhere (no /proc) there is no figure.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

/** One thread's totals so far, in ms. */
interface SchedTimes {
  runMs: number;
  waitMs: number;
}

/** Each thread's CPU and run-queue wait so far, by thread id; undefined where /proc has no schedstat. */
function threadTimes(pid: number | 'self'): Map<string, SchedTimes> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<string, SchedTimes>();
  for (const tid of tids) {
    try {
      const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, { runMs: (r ?? 0) / 1e6, waitMs: (w ?? 0) / 1e6 });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The sampling period: a thread that ends within a window counts up to its last sample. */
const SAMPLE_MS = 200;

/**
 * A window's run time and run-queue wait per second of wall time, for each process named (summed over its threads,
 * including those started and ended within the window, up to their last sample).
 */
export function schedWindow(pids: Record<string, number | 'self' | undefined>): { stop(): string } {
  const t0 = performance.now();
  const watched = Object.entries(pids).flatMap(([name, pid]) => {
    const base = pid === undefined ? undefined : threadTimes(pid);
    return pid !== undefined && base ? [{ name, pid, base, last: new Map(base) }] : [];
  });
  const sample = () => {
    for (const w of watched) for (const [tid, t] of threadTimes(w.pid) ?? []) w.last.set(tid, t);
  };
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      const s = (performance.now() - t0) / 1000;
      const parts = watched.map((w) => {
        let run = 0;
        let wait = 0;
        for (const [tid, t] of w.last) {
          const b = w.base.get(tid);
          run += t.runMs - (b?.runMs ?? 0);
          wait += t.waitMs - (b?.waitMs ?? 0);
        }
        return `${w.name} ran ${(run / s).toFixed(0)} ms/s, waited for a core ${(wait / s).toFixed(0)} ms/s`;
      });
      return parts.length ? parts.join('; ') : 'no schedstat here';
    },
  };
}
