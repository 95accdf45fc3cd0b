/** How a promise given until a deadline ended: with its value, with its error, or still pending when the deadline came. */
export type SettledBy<T> = { state: 'done'; value: T } | { state: 'failed'; err: unknown } | { state: 'late' };

/**
 * Wait for `p` until the epoch-ms deadline `by` (no deadline when omitted), never longer. A promise still pending
 * at the deadline is left to run, its eventual error swallowed (no unhandled rejection), and reported as `late`.
 */
export async function settleBy<T>(p: Promise<T>, by?: number): Promise<SettledBy<T>> {
  const settled = p.then(
    (value): SettledBy<T> => ({ state: 'done', value }),
    (err: unknown): SettledBy<T> => ({ state: 'failed', err }),
  );
  if (by === undefined) return settled;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<SettledBy<T>>((r) => {
    timer = setTimeout(() => r({ state: 'late' }), Math.max(0, by - Date.now()));
    timer.unref();
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
