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
  /** Every pairwise slope, ascending; the interval below is read from it. */
  readonly sortedSlopes: Float64Array;
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
  slopes.sort();
  const slope = medianOfSorted(slopes);
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = (values[i] as number) - slope * (times[i] as number);
  residuals.sort();
  return { slope, intercept: medianOfSorted(residuals), sortedSlopes: slopes };
}

/**
 * The rank-based confidence interval of Sen's slope from the normal approximation (Gilbert 1987,
 * "Statistical Methods for Environmental Pollution Monitoring", §16.5): with N slopes and
 * C = z_{1−(1−confidence)/2} · √Var(S), the bounds are the M1-th and (M2+1)-th smallest slopes,
 * M1 = (N − C)/2 and M2 = (N + C)/2, rounded to the nearest rank as R's `trend::sens.slope` does.
 * Var(S) is the Mann-Kendall variance, the autocorrelation-corrected one when the series is
 * autocorrelated, so the interval widens with the correlation as the test's variance does.
 */
export function senInterval(
  sortedSlopes: Float64Array,
  varianceS: number,
  confidence: number,
): SlopeInterval {
  const count = sortedSlopes.length;
  if (count === 0) throw new RangeError('no slopes to bound');
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const c = normalQuantile(1 - (1 - confidence) / 2) * Math.sqrt(varianceS);
  const rank = (r: number) => Math.min(count, Math.max(1, Math.round(r)));
  return {
    lower: sortedSlopes[rank((count - c) / 2) - 1] as number,
    upper: sortedSlopes[rank((count + c) / 2 + 1) - 1] as number,
  };
}

function medianOfSorted(sorted: Float64Array): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
