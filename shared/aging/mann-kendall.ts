/**
 * The Mann-Kendall test for a monotonic trend (Mann 1945; Kendall 1975), with the variance corrected for
 * tied values. Rank-based, so it needs no assumption about the noise's distribution and is indifferent to
 * the outliers aging metrics have (a VM's balloon inflating, a backup's page cache); it does assume
 * independent observations, which aging metrics are not: see `autocorrelation-correction.ts`.
 */
import { normalUpperTail } from './normal-distribution.js';

export interface MannKendallTest {
  readonly n: number;
  /** S = Σ_{i<j} sign(x_j − x_i): positive for a rising series. */
  readonly s: number;
  /** Var(S) under the null hypothesis, corrected for ties and multiplied by `varianceInflation`. */
  readonly varianceS: number;
  /** The factor Var(S) was multiplied by (1 for the plain test). */
  readonly varianceInflation: number;
  /** (S ∓ 1) / √Var(S), with the continuity correction; 0 when S = 0. */
  readonly z: number;
  /** Two-sided p-value. */
  readonly p: number;
  /** One-sided p-values, for a trigger that cares about one direction only. */
  readonly pIncreasing: number;
  readonly pDecreasing: number;
}

/** S for `values` in time order: O(n²), which is nothing for the few hundred points of a window. */
export function mannKendallS(values: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < values.length - 1; i++) {
    const xi = values[i] as number;
    for (let j = i + 1; j < values.length; j++) {
      const d = (values[j] as number) - xi;
      if (d > 0) s++;
      else if (d < 0) s--;
    }
  }
  return s;
}

/** Var(S) with ties: [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 over the groups of t equal values. */
export function mannKendallVariance(values: readonly number[]): number {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  let ties = 0;
  let run = 1;
  for (let i = 1; i <= n; i++) {
    if (i < n && sorted[i] === sorted[i - 1]) {
      run++;
      continue;
    }
    if (run > 1) ties += run * (run - 1) * (2 * run + 5);
    run = 1;
  }
  return (n * (n - 1) * (2 * n + 5) - ties) / 18;
}

/** Z from S and its variance, with the continuity correction of ±1 (S moves in steps of 2). */
export function mannKendallZ(s: number, varianceS: number): number {
  if (s === 0 || varianceS <= 0) return 0;
  return (s > 0 ? s - 1 : s + 1) / Math.sqrt(varianceS);
}

/**
 * The test on `values` in time order. `varianceInflation` (≥ 1 in practice) is the n/n* of an
 * autocorrelation correction; 1 gives the plain test.
 */
export function mannKendall(values: readonly number[], varianceInflation = 1): MannKendallTest {
  const s = mannKendallS(values);
  return mannKendallFromS(values, s, varianceInflation);
}

/** The test when S is already known (the trigger computes it once for a quick first look). */
export function mannKendallFromS(
  values: readonly number[],
  s: number,
  varianceInflation: number,
): MannKendallTest {
  const varianceS = mannKendallVariance(values) * varianceInflation;
  const z = mannKendallZ(s, varianceS);
  const pIncreasing = normalUpperTail(z);
  const pDecreasing = normalUpperTail(-z);
  return {
    n: values.length,
    s,
    varianceS,
    varianceInflation,
    z,
    p: Math.min(1, 2 * Math.min(pIncreasing, pDecreasing)),
    pIncreasing,
    pDecreasing,
  };
}
