/**
 * Sen's slope (Sen 1968): the median of the slopes between every pair of points. Robust where least
 * squares is not: a VM starting is one step that moves the mean of a window a lot but the median of its
 * pairwise slopes little. Timestamps, not indices, so a gap in a series does not distort the slope.
 */
import { normalQuantile } from './normal-distribution.js';

export interface SenSlope {
  /** Units of the values per unit of the times. */
  readonly slope: number;
  /** The line's value at time 0: the median of v − slope·t. */
  readonly intercept: number;
  /**
   * Every pairwise slope, in no particular order (selection reorders them): the interval below is read
   * from it. Selection rather than sorting, because the trigger computes this for every series of every
   * host at every evaluation: O(N) instead of O(N log N) for N = n(n−1)/2 slopes.
   */
  readonly slopes: Float64Array;
}

export interface SlopeInterval {
  readonly lower: number;
  readonly upper: number;
}

/** Times must be strictly increasing (the series are deduplicated and sorted before this). */
export function senSlope(times: readonly number[], values: readonly number[]): SenSlope {
  const n = times.length;
  if (n < 2 || values.length !== n) throw new RangeError(`Sen's slope needs two or more points (got ${n})`);
  const slopes = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n - 1; i++) {
    const ti = times[i] as number;
    const vi = values[i] as number;
    for (let j = i + 1; j < n; j++) slopes[k++] = ((values[j] as number) - vi) / ((times[j] as number) - ti);
  }
  const slope = median(slopes);
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = (values[i] as number) - slope * (times[i] as number);
  return { slope, intercept: median(residuals), slopes };
}

/**
 * The rank-based confidence interval of Sen's slope from the normal approximation (Gilbert 1987,
 * "Statistical Methods for Environmental Pollution Monitoring", §16.5): with N slopes and
 * C = z_{1−(1−confidence)/2} · √Var(S), the bounds are the M1-th and (M2+1)-th smallest slopes,
 * M1 = (N − C)/2 and M2 = (N + C)/2, rounded to the nearest rank as R's `trend::sens.slope` does.
 * Var(S) is the Mann-Kendall variance, the autocorrelation-corrected one when the series is
 * autocorrelated, so the interval widens with the correlation as the test's variance does.
 */
export function senInterval(slopes: Float64Array, varianceS: number, confidence: number): SlopeInterval {
  const count = slopes.length;
  if (count === 0) throw new RangeError('no slopes to bound');
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const c = normalQuantile(1 - (1 - confidence) / 2) * Math.sqrt(varianceS);
  const rank = (r: number) => Math.min(count, Math.max(1, Math.round(r)));
  return {
    lower: select(slopes, rank((count - c) / 2) - 1),
    upper: select(slopes, rank((count + c) / 2 + 1) - 1),
  };
}

/** The median of `values`, which it reorders. */
function median(values: Float64Array): number {
  const middle = Math.floor(values.length / 2);
  const upper = select(values, middle);
  if (values.length % 2 === 1) return upper;
  // After selecting `middle`, everything before it is ≤ it: the lower middle is their maximum.
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < middle; i++) lower = Math.max(lower, values[i] as number);
  return (lower + upper) / 2;
}

/**
 * The k-th smallest (0-based) of `values` by Hoare's quickselect with a median-of-three pivot; reorders
 * `values` so that everything before index k is ≤ it and everything after is ≥ it.
 */
export function select(values: Float64Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    // Median of three, moved to `right` as the pivot.
    if ((values[mid] as number) < (values[left] as number)) swap(values, mid, left);
    if ((values[right] as number) < (values[left] as number)) swap(values, right, left);
    if ((values[mid] as number) < (values[right] as number)) swap(values, mid, right);
    const pivot = values[right] as number;
    let store = left;
    for (let i = left; i < right; i++) {
      if ((values[i] as number) < pivot) swap(values, i, store++);
    }
    swap(values, store, right);
    if (store === k) return values[k] as number;
    if (store < k) left = store + 1;
    else right = store - 1;
  }
  return values[k] as number;
}

function swap(values: Float64Array, i: number, j: number): void {
  const t = values[i] as number;
  values[i] = values[j] as number;
  values[j] = t;
}
