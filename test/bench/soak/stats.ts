/** Small statistics for the soak: percentiles and least-squares slopes. */

/** The `p`-th percentile (0–100) of `xs` (nearest rank), NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Count, p50 and p99 of `xs`, rounded to 0.1. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
}

/** {@link Summary} of `xs`. */
export function summarise(xs: readonly number[]): Summary {
  const r = (v: number) => (Number.isNaN(v) ? NaN : Math.round(v * 10) / 10);
  return { n: xs.length, p50: r(percentile(xs, 50)), p99: r(percentile(xs, 99)) };
}

/** The least-squares slope of `ys` over `xs` (per unit of x), NaN with fewer than two points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
