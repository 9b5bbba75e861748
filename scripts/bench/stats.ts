/** The two statistics the bench reports: medians with their range over rounds, and percentiles. */

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median, min and max of the finite values; undefined when there are none. */
export function stat(xs: readonly number[]): Stat | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return {
    median: v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2,
    min: v[0]!,
    max: v[v.length - 1]!,
    n: v.length,
  };
}

/** The nearest-rank percentile `p` (0-100) of an ascending array; NaN when it is empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
