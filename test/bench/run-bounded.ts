/** Run a benchmark's `main` and exit: 0 when it completed, 1 on an error, 2 when it overran `limitMs`. */
export function runBounded(name: string, limitMs: number, main: () => Promise<void>): void {
  const deadline = setTimeout(() => {
    console.error(`${name} bench: overall timeout (${Math.round(limitMs / 1000)} s)`);
    process.exit(2);
  }, limitMs);
  deadline.unref();
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
